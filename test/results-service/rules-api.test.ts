import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startBridgeAppOnZooniverse, type BridgeApp } from '../support/bridge-app.js';
import type { PanoptesServerDouble } from '../support/panoptes-server.js';
import { waitFor } from '../support/wait.js';
import { expertRules, resultsWorld, retireRules, t0, type ResultsWorld } from './effects-fixture.js';

/*
 * The results rules over HTTP, as a PI's notebook or the results page uses
 * them: a file with mistakes is refused (422) with its line numbers; a good
 * one is stored switched off, dry-run without effect, then enabled (the
 * worker applies it); the effects ledger is listed and undone where that is
 * possible. Only the owner and admins may do any of it.
 */
describe('results rules API', () => {
  let app: BridgeApp & { zoo: PanoptesServerDouble };
  let w: ResultsWorld;
  let cid: string;
  beforeAll(async () => {
    app = await startBridgeAppOnZooniverse({ owners: ['alien'], stamps: 1, settings: {} });
    cid = app.collections.alien;
    w = await resultsWorld(app.s.db, app.zoo, { collectionId: cid });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  const as = (user: string, method: string, path: string, body?: unknown) => app.call(user, method, path, body);
  const rulesText = () => `${expertRules(w.expertSet).replace('version: "1"\n', `version: "1"\nworkflow: "${w.workflowId}"\n`)}${retireRules(w.workflowId).split('rules:\n')[1]}`;

  it('refuses a file with mistakes with 422 and line numbers, as YAML or JSON', async () => {
    const bad = 'name: t\nversion: "1"\nrules:\n  - id: r1\n    task: T0\n    condition: [gte, [lookup, consensus.agreemnt, 0], [const, 0.8]]\n    effects:\n      - retire_subject: { reason: finished }\n';
    const yaml = await fetch(`${app.url}/api/v1/collections/${cid}/results/rules`, { method: 'PUT', headers: { authorization: `Bearer ${await app.bearer('alien')}`, 'content-type': 'text/yaml' }, body: bad });
    expect(yaml.status).toBe(422);
    const problem = (await yaml.json()) as { code: string; detail: string; issues: { line: number; rule: string; message: string }[] };
    expect(problem.code).toBe('unprocessable_input');
    expect(problem.issues).toEqual([expect.objectContaining({ line: 8, rule: 'r1', at: 'effects[0].retire_subject.reason' })]);
    const json = await as('alien', 'PUT', `/collections/${cid}/results/rules`, { source: bad.replace('finished', 'consensus') });
    expect(json.status).toBe(422);
    expect(json.body.detail).toMatch(/line 6: rule "r1": condition\[1\]\[1\]: unknown fact "consensus.agreemnt"/);
    expect((await as('alien', 'GET', `/collections/${cid}/results/rules`)).status).toBe(404);
  });

  it('lets only the owner and admins see and change the rules and effects', async () => {
    for (const user of ['other', 'rev']) {
      expect((await as(user, 'PUT', `/collections/${cid}/results/rules`, { source: rulesText() })).status).toBe(403);
      expect((await as(user, 'GET', `/collections/${cid}/results/effects`)).status).toBe(403);
      expect((await as(user, 'POST', `/collections/${cid}/results/rules/dry-run`, { source: rulesText() })).status).toBe(403);
    }
    expect((await as('boss', 'POST', `/collections/${cid}/results/rules/dry-run`, { source: rulesText() })).status).toBe(200);
  });

  it('stores switched off, dry-runs without effect, enables (audited), applies once, lists and undoes effects', async () => {
    const put = await as('alien', 'PUT', `/collections/${cid}/results/rules`, { source: rulesText() });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'expert-test', enabled: false, workflow: w.workflowId });
    expect(put.body.rules.map((r: { id: string }) => r.id)).toEqual(['ambiguous-to-experts', 'retire-on-consensus']);
    expect((await as('alien', 'GET', `/collections/${cid}/results/rules`)).body.source).toBe(rulesText());

    const retire = [...w.reductions].filter(([, r]) => t0(r).agreement >= 0.8 && t0(r).classifications >= 5).map(([s]) => s).sort();
    const dry = await as('alien', 'POST', `/collections/${cid}/results/rules/dry-run`);
    expect(dry.status).toBe(200);
    expect(dry.body.rules[1].subjects.map((s: { subjectId: string }) => s.subjectId).sort()).toEqual(retire);
    expect(dry.body.warnings.join(' ')).toMatch(/retirement cannot be undone/);
    expect((await as('alien', 'GET', `/collections/${cid}/results/effects`)).body.items).toEqual([]);
    expect(app.zoo.results.retired(w.workflowId).size).toBe(0);

    expect((await as('other', 'POST', `/collections/${cid}/results/rules/enable`)).status).toBe(403);
    const on = await as('alien', 'POST', `/collections/${cid}/results/rules/enable`);
    expect(on.status).toBe(200);
    expect(on.body.enabled).toBe(true);
    const effects = async (q = '') => (await as('alien', 'GET', `/collections/${cid}/results/effects${q}`)).body as { items: { id: string; kind: string; state: string; subjectId: string; undoable: boolean }[] };
    const retired = await waitFor(() => effects('?kind=retire_subject&state=done'), (e) => e.items.length === retire.length, 60_000);
    expect(retired.items.map((e) => e.subjectId).sort()).toEqual(retire);
    expect([...app.zoo.results.retired(w.workflowId).keys()].sort()).toEqual(retire);

    const undoRetire = await as('alien', 'POST', `/results/effects/${retired.items[0].id}/undo`);
    expect(undoRetire.status).toBe(409);
    expect(undoRetire.body.detail).toMatch(/Panoptes offers no way to undo a retirement through its API/);
    const flags = (await waitFor(() => effects('?kind=flag'), (e) => e.items.length > 0 && e.items.every((x) => x.state === 'done'), 60_000)).items;
    expect(flags[0].undoable).toBe(true);
    expect((await as('other', 'POST', `/results/effects/${flags[0].id}/undo`)).status).toBe(403);
    const undone = await as('alien', 'POST', `/results/effects/${flags[0].id}/undo`);
    expect(undone.status).toBe(200);
    expect(undone.body.state).toBe('undone');

    const off = await as('alien', 'POST', `/collections/${cid}/results/rules/disable`);
    expect(off.body.enabled).toBe(false);
    const audit = await app.s.db.selectFrom('audit_log').select(['actor', 'action']).where('entity_id', '=', cid).where('action', 'like', 'results_rules_%').orderBy('id').execute();
    expect(audit).toEqual([
      { actor: 'alien', action: 'results_rules_stored' },
      { actor: 'alien', action: 'results_rules_enabled' },
      { actor: 'alien', action: 'results_rules_disabled' },
    ]);
  }, 120_000);
});
