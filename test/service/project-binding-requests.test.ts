import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevApi, type DevApi } from '../support/dev-api.js';

/**
 * A PI's request for a Zooniverse project (POST /project-binding-requests):
 * asked once (asking again leaves the first request), refused when already
 * approved, answered by an admin's approval (the request goes in the same
 * transaction) or decline, or withdrawn by the PI; nobody else may drop it.
 */
describe('project binding requests', () => {
  let d: DevApi;
  const ADMIN = { 'x-bridge-dev-roles': 'admin' };
  beforeAll(async () => {
    d = await startDevApi();
  }, 60_000);
  afterAll(async () => {
    await d?.close();
  });

  const mine = async (user: string) => (await d.call('GET', '/api/v1/me/project-bindings', user)).body;
  const waiting = async () => (await d.call('GET', '/api/v1/project-binding-requests', 'boss', undefined, ADMIN)).body.items;

  it('asks once, is answered by an approval, and is refused once approved', async () => {
    const first = await d.call('POST', '/api/v1/project-binding-requests', 'alien', { projectId: '31', reason: 'Galaxy Hunters' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ username: 'alien', projectId: '31', reason: 'Galaxy Hunters' });
    const again = await d.call('POST', '/api/v1/project-binding-requests', 'alien', { projectId: '31', reason: 'asked twice' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await waiting()).toEqual([first.body]);
    expect((await mine('alien')).requested).toEqual([{ ...first.body, username: 'alien' }]);
    expect((await mine('other')).requested).toEqual([]);

    // Bad input is refused field by field.
    const bad = await d.call('POST', '/api/v1/project-binding-requests', 'alien', { projectId: 'abc', reason: '' });
    expect(bad.status).toBe(400);
    expect(bad.body.issues.map((i: { field: string }) => i.field).sort()).toEqual(['projectId', 'reason']);

    expect((await d.call('POST', '/api/v1/project-bindings', 'boss', { username: 'alien', projectId: '31', reason: 'ok' }, ADMIN)).status).toBe(201);
    expect(await waiting()).toEqual([]);
    expect(await mine('alien')).toMatchObject({ approved: [{ projectId: '31', approvedBy: 'boss' }], requested: [] });
    const approval = await d.s.db.selectFrom('audit_log').select('detail').where('action', '=', 'approve_project_binding').executeTakeFirstOrThrow();
    expect(approval.detail).toEqual({ username: 'alien', projectId: '31', requestId: first.body.id });

    const late = await d.call('POST', '/api/v1/project-binding-requests', 'alien', { projectId: '31', reason: 'again' });
    expect(late.status).toBe(409);
    expect(late.body.detail).toMatch(/already approved for you/);
  });

  it('is withdrawn by its PI or declined by an admin, never dropped by another PI', async () => {
    expect((await d.call('POST', '/api/v1/project-binding-requests', 'alien', { projectId: '41', reason: 'one' })).status).toBe(201);
    expect((await d.call('POST', '/api/v1/project-binding-requests', 'alien', { projectId: '42', reason: 'two' })).status).toBe(201);
    expect((await d.call('DELETE', '/api/v1/project-binding-requests', 'other', { username: 'alien', projectId: '41' })).status).toBe(403);
    expect((await d.call('DELETE', '/api/v1/project-binding-requests', 'alien', { username: 'alien', projectId: '41' })).status).toBe(204);
    expect((await d.call('DELETE', '/api/v1/project-binding-requests', 'boss', { username: 'alien', projectId: '42', reason: 'not an EPO project' }, ADMIN)).status).toBe(204);
    expect((await d.call('DELETE', '/api/v1/project-binding-requests', 'boss', { username: 'alien', projectId: '42' }, ADMIN)).status).toBe(404);
    expect((await mine('alien')).requested).toEqual([]);
    const audit = await d.s.db.selectFrom('audit_log').select(['actor', 'action', 'reason']).where('action', 'in', ['withdraw_project_binding_request', 'decline_project_binding_request']).orderBy('id').execute();
    expect(audit).toEqual([
      { actor: 'alien', action: 'withdraw_project_binding_request', reason: null },
      { actor: 'boss', action: 'decline_project_binding_request', reason: 'not an EPO project' },
    ]);
  });
});
