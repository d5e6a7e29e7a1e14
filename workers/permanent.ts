import { UnrecoverableError } from 'bullmq';
import { UnprocessableInputError } from '../src/domain/group-conversion.js';
import { NotFoundError, UpstreamRefusedError } from '../src/domain/errors.js';
import { NotPublishableError } from '../src/domain/publish.js';

/** Errors retrying cannot fix become UnrecoverableError (BullMQ then stops retrying), with the reason the PI will read. */
export function permanent(e: unknown): never {
  if (e instanceof UnprocessableInputError || e instanceof UpstreamRefusedError || e instanceof NotFoundError || e instanceof NotPublishableError) throw new UnrecoverableError(e.message);
  throw e;
}
