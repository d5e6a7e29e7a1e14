import express, { Router, type Request } from 'express';
import { z } from 'zod';
import type { Repositories } from '../domain/ports/repositories.js';
import type { JobQueue } from '../domain/ports/job-queue.js';
import type { ZooniverseEffects } from '../domain/ports/zooniverse-effects.js';
import type { ResultEffectRecord } from '../domain/ports/result-effects-repository.js';
import { changeableCollection } from '../domain/collections.js';
import { ValidationError } from '../domain/errors.js';
import { UnprocessableInputError } from '../domain/group-conversion.js';
import { dryRunResultRules } from '../domain/results-evaluate.js';
import { undoEffect } from '../domain/results-effects.js';
import { describeEffect, ResultsRulesError, type ResultsRules } from '../domain/results-rules.js';
import { listResultEffects, setResultsRulesEnabled, storeResultsRules, storedResultsRules } from '../domain/results-rules-store.js';
import type { StoredResultsRules } from '../domain/ports/results-rules-repository.js';
import { requireRole } from './auth.js';

const uuid = z.string().uuid();
/** A results rules file is a few kilobytes; this leaves room for long comments. */
const RULES_LIMIT = '256kb';
const KINDS = ['retire_subject', 'add_subject_to_set', 'notify', 'flag'] as const;
const STATES = ['intent', 'sending', 'ambiguous', 'done', 'failed', 'undone'] as const;

/**
 * A collection's results rules and their effects (owners and admins; the
 * reviewers who oversee every collection do not decide what is done with
 * its results): store a file (validated, stored switched off), read it, dry
 * run it, switch it on and off, list the effects ledger, undo an effect.
 * The file is sent as YAML (text/yaml, application/yaml, text/plain) or as
 * JSON `{source}`; a file with problems is a 422 listing each with its line.
 */
export function resultsRulesRoutes(d: { repos: Repositories; queues: Pick<JobQueue, 'add'>; zooniverse?: ZooniverseEffects }): Router {
  const r = Router();
  const yamlBody = express.text({ type: ['text/yaml', 'application/yaml', 'application/x-yaml', 'text/plain'], limit: RULES_LIMIT });
  const owned = (req: Request) => changeableCollection(d.repos, req.identity!, uuid.parse(req.params.id), 'only the owner or an admin can see or change the results rules');

  r.put('/collections/:id/results/rules', requireRole('pi'), yamlBody, async (req, res) => {
    const c = await owned(req);
    const v = await refusedAs422(() => storeResultsRules(d.repos, req.identity!, c, sourceOf(req.body, true)!, d.queues));
    res.json(rulesView(v.stored, v.rules));
  });

  r.get('/collections/:id/results/rules', requireRole('pi'), async (req, res) => {
    const c = await owned(req);
    const v = await storedResultsRules(d.repos, c);
    res.json({ ...rulesView(v.stored, v.rules), source: v.stored.source });
  });

  r.post('/collections/:id/results/rules/dry-run', requireRole('pi'), yamlBody, async (req, res) => {
    const c = await owned(req);
    const source = sourceOf(req.body, false);
    res.json(await refusedAs422(() => dryRunResultRules(d, c.id, source)));
  });

  for (const [action, enabled] of [['enable', true], ['disable', false]] as const) {
    r.post(`/collections/:id/results/rules/${action}`, requireRole('pi'), async (req, res) => {
      const c = await owned(req);
      const s = await setResultsRulesEnabled(d, req.identity!, c, enabled);
      res.json({ enabled: s.enabled, digest: s.digest, updatedBy: s.updated_by, updatedAt: s.updated_at });
    });
  }

  r.get('/collections/:id/results/effects', requireRole('pi'), async (req, res) => {
    const c = await owned(req);
    const q = z
      .object({ state: z.enum(STATES).optional(), kind: z.enum(KINDS).optional(), before: uuid.optional(), limit: z.coerce.number().int().min(1).max(500).default(100) })
      .parse(req.query);
    const page = await listResultEffects(d.repos, c, q);
    res.json({ items: page.items.map(effectView), next: page.next });
  });

  r.post('/results/effects/:effectId/undo', requireRole('pi'), async (req, res) => {
    const row = await undoEffect({ repos: d.repos, zooniverse: d.zooniverse }, uuid.parse(req.params.effectId), req.identity!);
    res.json(effectView(row));
  });

  return r;
}

/** The file from a YAML body or JSON {source}; `required` false lets a dry run fall back to the stored file. */
function sourceOf(body: unknown, required: boolean): string | undefined {
  if (typeof body === 'string' && body.trim() !== '') return body;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const s = (body as { source?: unknown }).source;
    if (typeof s === 'string' && s.trim() !== '') return s;
    if (s !== undefined) throw new ValidationError('source must be the results rules file as a string', { field: 'source' });
  }
  if (required) throw new ValidationError('send the results rules file as YAML (Content-Type text/yaml) or as JSON {"source": "..."}', { field: 'source' });
  return undefined;
}

/** A file with problems is well-formed input that cannot be used: 422, one issue per line with its line number. */
async function refusedAs422<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ResultsRulesError) throw new UnprocessableInputError(e.message, { issues: e.issues, file: e.label });
    throw e;
  }
}

function rulesView(s: StoredResultsRules, r: ResultsRules) {
  return {
    name: r.name,
    version: r.version,
    digest: s.digest,
    enabled: s.enabled,
    updatedBy: s.updated_by,
    updatedAt: s.updated_at,
    workflow: r.workflow ?? null,
    reduce: r.reduce,
    rules: r.rules.map((x) => ({ id: x.id, description: x.description, task: x.task ?? null, condition: x.condition, effects: x.effects.map((e) => ({ ...e, says: describeEffect(e) })) })),
  };
}

function effectView(e: ResultEffectRecord) {
  return {
    id: e.id,
    kind: e.kind,
    state: e.state,
    rule: e.rule_id,
    target: e.target,
    workflowId: e.workflow_id,
    subjectId: e.subject_id,
    imageId: e.image_id,
    attempts: e.attempts,
    error: e.error,
    detail: e.detail,
    createdAt: e.created_at,
    updatedAt: e.updated_at,
    doneAt: e.done_at,
    undoable: e.state === 'done' && (e.kind === 'flag' || e.kind === 'add_subject_to_set'),
  };
}
