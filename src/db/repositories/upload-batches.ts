import type { UploadBatchesRepository } from '../../domain/ports/upload-batches-repository.js';
import type { Tx } from './transitions.js';

export function uploadBatchesRepository(db: Tx): UploadBatchesRepository {
  return {
    async collectionOf(uploadBatchId) {
      const row = await db.selectFrom('upload_batches').select('collection_id').where('id', '=', uploadBatchId).executeTakeFirst();
      return row?.collection_id;
    },
  };
}
