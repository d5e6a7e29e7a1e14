import { Router } from 'express';
import { z } from 'zod';
import type { ProjectBinding, ProjectBindingRequest } from '../domain/model.js';
import type { Repositories } from '../domain/ports/repositories.js';
import {
  approveProjectBinding,
  dropProjectBindingRequest,
  listProjectBindingRequests,
  listProjectBindings,
  ownProjectBindings,
  requestProjectBinding,
  revokeProjectBinding,
} from '../domain/project-bindings.js';
import { requireRole } from './auth.js';

const projectId = z.string().regex(/^\d{1,12}$/, 'must be a Zooniverse project id (digits)');
const username = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be an RSP username');

const binding = (x: ProjectBinding) => ({ username: x.username, projectId: x.project_id, approvedBy: x.approved_by, createdAt: x.created_at });
const request = (x: ProjectBindingRequest) => ({ id: x.id, username: x.username, projectId: x.project_id, reason: x.reason, createdAt: x.created_at });

/**
 * Which Zooniverse projects each PI may upload to (domain/project-bindings.ts):
 * a PI asks (`/project-binding-requests`) and sees their own
 * (`/me/project-bindings`); admins list, approve and withdraw
 * (`/project-bindings`) and decline requests.
 */
export function projectBindingRoutes(d: { repos: Repositories }): Router {
  const r = Router();

  r.get('/project-bindings', requireRole('admin'), async (req, res) => {
    res.json({ items: (await listProjectBindings(d.repos, req.identity!)).map(binding) });
  });

  r.post('/project-bindings', requireRole('admin'), async (req, res) => {
    const b = z.object({ username, projectId, reason: z.string().trim().min(1).max(2000).default('approved by an admin') }).strict().parse(req.body);
    const row = await approveProjectBinding(d.repos, req.identity!, b.username, b.projectId, b.reason);
    res.status(201).json({ username: row.username, projectId: row.project_id, approvedBy: row.approved_by });
  });

  r.delete('/project-bindings', requireRole('admin'), async (req, res) => {
    const b = z.object({ username, projectId }).strict().parse(req.body);
    await revokeProjectBinding(d.repos, req.identity!, b.username, b.projectId);
    res.status(204).end();
  });

  r.get('/project-binding-requests', requireRole('admin'), async (req, res) => {
    res.json({ items: (await listProjectBindingRequests(d.repos, req.identity!)).map(request) });
  });

  r.post('/project-binding-requests', requireRole('pi'), async (req, res) => {
    const b = z.object({ projectId, reason: z.string().trim().min(1, 'say which project this is and what it is for').max(2000) }).strict().parse(req.body);
    const { request: row, created } = await requestProjectBinding(d.repos, req.identity!, b.projectId, b.reason);
    res.status(created ? 201 : 200).json(request(row));
  });

  r.delete('/project-binding-requests', requireRole('pi'), async (req, res) => {
    const b = z.object({ username, projectId, reason: z.string().trim().min(1).max(2000).optional() }).strict().parse(req.body);
    await dropProjectBindingRequest(d.repos, req.identity!, b.username, b.projectId, b.reason);
    res.status(204).end();
  });

  r.get('/me/project-bindings', requireRole('pi'), async (req, res) => {
    const own = await ownProjectBindings(d.repos, req.identity!);
    res.json({ approved: own.approved.map(binding), requested: own.requested.map(request) });
  });

  return r;
}
