import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridgeApp, type BridgeApp } from '../support/bridge-app.js';
import { waitFor } from '../support/wait.js';

/**
 * Images the policy approves on its own are released by the evaluation
 * itself: with the sweep an hour away, they are public seconds after
 * conversion, with no reviewer involved.
 */
let app: BridgeApp;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auto-approve-'));
  const policyFile = join(dir, 'trusted.yaml');
  await writeFile(
    policyFile,
    ['name: trusted', 'version: "1"', 'evaluation: first_match', 'rules:', '  - id: everything', '    description: this project needs no review', '    condition: [const, true]', '    effects: [{ action: auto_approve, reason: trusted test data }]', ''].join('\n'),
  );
  app = await startBridgeApp({ owners: ['alien'], stamps: 3, policyFile, sweepSeconds: 3600 });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('auto-approved images', () => {
  it('are published without waiting for the sweep', async () => {
    const rows = await waitFor(
      () => app.s.db.selectFrom('images').select(['state', 'verdict', 'public_key']).where('collection_id', '=', app.collections.alien).execute(),
      (r) => r.length === 3 && r.every((i) => i.state === 'published'),
      20_000,
    );
    expect(rows.every((i) => i.verdict === 'auto_approved' && i.public_key !== null)).toBe(true);
  });
});
