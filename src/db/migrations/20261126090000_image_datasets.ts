import { sql, type Kysely } from 'kysely';

/**
 * The Butler datasets each image was made from, recorded by conversion with
 * the image. Before this, manifests worked them out again from the image's
 * group key: a join on artifacts for FITS bands, and for ZIP renderings the
 * dataset id cut out of the `#zip:<id>` suffix of the key.
 *
 * Images converted earlier are linked here the way manifests used to find
 * their datasets, so their subjects' #dataset_ids stay exactly as they were.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('image_datasets')
    .addColumn('image_id', 'uuid', (c) => c.notNull().references('images.id').onDelete('cascade'))
    // Kept nullable so the dataset id outlives its artifact row.
    .addColumn('artifact_id', 'uuid', (c) => c.references('artifacts.id').onDelete('set null'))
    .addColumn('dataset_id', 'text', (c) => c.notNull())
    .addColumn('band', 'text')
    // Channel order: 1 = R (or the one band, or the archive).
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_datasets_pkey', ['image_id', 'position'])
    .execute();
  // Deleting a collection deletes its artifacts, and each must find its links without a scan.
  await db.schema.createIndex('image_datasets_artifact').on('image_datasets').column('artifact_id').execute();

  // ZIP renderings: the one archive named by the key's suffix (the last place that suffix is read).
  await sql`
    insert into image_datasets (image_id, artifact_id, dataset_id, band, position)
    select i.id, a.id, a.dataset_id, a.band, 1
    from images i
    join artifacts a on a.collection_id = i.collection_id and i.group_key = a.group_key || '#zip:' || a.dataset_id
    where a.object_key like '%.zip'`.execute(db);
  // FITS groups: every non-archive artifact of the group, as manifests listed them; bands
  // that fed a channel take its position, any others follow.
  await sql`
    insert into image_datasets (image_id, artifact_id, dataset_id, band, position)
    select i.id, a.id, a.dataset_id, a.band,
      row_number() over (partition by i.id order by ch.ord nulls last, a.band, a.dataset_id)
    from images i
    join artifacts a on a.collection_id = i.collection_id and a.group_key = i.group_key
    left join lateral (
      select min(e.ord) as ord
      from jsonb_array_elements_text(case when jsonb_typeof(i.bands) = 'array' then i.bands else '[]'::jsonb end) with ordinality as e(band, ord)
      where e.band = a.band
    ) ch on true
    where a.object_key is null or a.object_key not like '%.zip'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('image_datasets').ifExists().execute();
}
