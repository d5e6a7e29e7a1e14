import { Command } from 'commander';
import { join } from 'node:path';
import { loadConfig } from '../config/config.js';
import { openDatabase } from '../db/database.js';
import { countByState, listCollections } from '../db/repositories/collections.js';

/** `bridge status [--collection ID]`: counts per state, straight from the database (the truth). */
export function statusCommand(): Command {
  return new Command('status')
    .description('Show collections and their counts per state')
    .option('--collection <id>', 'one collection')
    .option('--json', 'machine-readable output')
    .action(async (o: { collection?: string; json?: boolean }) => {
      const config = loadConfig();
      const db = await openDatabase({ url: config.DATABASE_URL, dataDir: join(config.DATA_DIR, 'pglite') });
      try {
        const rows = (await listCollections(db)).filter((c) => !o.collection || c.id === o.collection || c.name === o.collection);
        const out = [];
        const { uploadProgress } = await import('../domain/upload.js');
        for (const c of rows) {
          const batches = await db.selectFrom('upload_batches').select('id').where('collection_id', '=', c.id).orderBy('seq').execute();
          const uploads = await Promise.all(batches.map((b) => uploadProgress(db, b.id)));
          out.push({ id: c.id, collection: c.name, owner: c.owner, status: c.status, lastPolledAt: c.last_polled_at, lastPollError: c.last_poll_error, ...(await countByState(db, c.id)), uploads });
        }
        if (o.json || !process.stdout.isTTY) {
          process.stdout.write(JSON.stringify(out, null, 2) + '\n');
          return;
        }
        for (const c of out) {
          process.stdout.write(`${c.collection} (${c.status}, owner ${c.owner}) ${c.id}\n`);
          process.stdout.write(`  artifacts: ${fmt(c.artifacts)}\n  images:    ${fmt(c.images)}\n`);
          if (c.lastPollError) process.stdout.write(`  last poll failed: ${c.lastPollError}\n`);
          for (const u of c.uploads) {
            process.stdout.write(`  batch ${u.seq} (${u.mode}) ${bar(u.linked, u.total)} ${u.linked}/${u.total} linked, ${u.created} created, ${u.failed} failed: ${u.state}${u.error ? ` (${u.error})` : ''}\n`);
          }
        }
        if (!out.length) process.stdout.write('no collections registered\n');
      } finally {
        await db.destroy();
      }
    });
}

function bar(done: number, total: number, width = 24): string {
  const n = total ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

function fmt(counts: Record<string, number>): string {
  const e = Object.entries(counts);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}
