import { once } from 'node:events';
import { Router, type Response } from 'express';
import { z } from 'zod';
import type { Repositories } from '../domain/ports/repositories.js';
import { resultsCollection, resultsPage, resultsSummary, MAX_RESULTS_PAGE, type ResultItem } from '../domain/results-table.js';
import { resultsFileName, writeResultsCsv, writeResultsParquet, type ByteSink } from '../domain/results-download.js';
import type { ResultsFilter } from '../domain/ports/results-read-repository.js';
import { requireRole } from './auth.js';
import type { MediaSigner } from './media.js';

export interface ResultsRoutesDeps {
  repos: Repositories;
  /** Signs the thumbnail URLs of the listing (the same short-lived quarantine media URLs as the review page). */
  signer: MediaSigner;
}

const uuid = z.string().uuid();
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const agreement = z.coerce.number().min(0).max(1);

const filterQuery = z.object({
  task: z.string().min(1).max(200).optional(),
  answer: z.string().max(1000).optional(),
  minAgreement: agreement.optional(),
  maxAgreement: agreement.optional(),
  retired: bool.optional(),
  flagged: bool.optional(),
});

const listQuery = filterQuery.extend({
  cursor: z.string().max(2000).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_RESULTS_PAGE).default(100),
  sort: z.enum(['subject', 'agreement', '-agreement']).default('subject'),
});

/**
 * The PI's results (issue 14): a paged JSON listing with thumbnails, and
 * the whole set as CSV or Parquet, streamed. Each row carries RA/Dec, so
 * every route here is for the collection's owner, its delegates and admins
 * only (resultsCollection): a reviewer who can see the collection is refused.
 */
export function resultsRoutes(d: ResultsRoutesDeps): Router {
  const r = Router();

  r.get('/collections/:id/results', requireRole('pi', 'admin'), async (req, res) => {
    const c = await resultsCollection(d.repos, req.identity!, uuid.parse(req.params.id));
    const q = listQuery.parse(req.query);
    const page = await resultsPage(d.repos, c, { ...q, order: q.sort });
    // The first page also says what the page above the rows shows: tasks with their answers, and the agreement histogram.
    const { cursor: _c, limit: _l, sort: _s, ...filter } = q;
    const summary = q.cursor ? undefined : await resultsSummary(d.repos, c, filter);
    const now = Date.now();
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      items: page.items.map((it: ResultItem) => ({ ...it.row, previewUrl: it.quarantineKey ? d.signer.sign(it.quarantineKey, now) : null })),
      next: page.next,
      total: page.total,
      ...(summary ? { summary } : {}),
      previewExpiresAt: d.signer.expiresAt(now).toISOString(),
    });
  });

  for (const format of ['csv', 'parquet'] as const) {
    r.get(`/collections/:id/results.${format}`, requireRole('pi', 'admin'), async (req, res) => {
      const c = await resultsCollection(d.repos, req.identity!, uuid.parse(req.params.id));
      const filter: ResultsFilter = filterQuery.parse(req.query);
      let started = false;
      const sink: ByteSink = async (chunk) => {
        if (!started) {
          started = true;
          res.status(200).type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.apache.parquet');
          res.setHeader('Content-Disposition', `attachment; filename="${resultsFileName(c, format)}"`);
          res.setHeader('Cache-Control', 'no-store');
        }
        await writeChunk(res, chunk);
      };
      try {
        if (format === 'csv') await writeResultsCsv(d.repos, c, sink, { filter });
        else await writeResultsParquet(d.repos, c, sink, { filter });
        res.end();
      } catch (e) {
        // Before the first byte the error is an answer; after it the download is cut short.
        if (!res.headersSent) {
          res.removeHeader('Content-Disposition');
          throw e;
        }
        res.destroy(e as Error);
      }
    });
  }

  return r;
}

/** Writes with back-pressure; a client that went away stops the download. */
async function writeChunk(res: Response, chunk: Uint8Array): Promise<void> {
  if (res.destroyed) throw new Error('the client went away');
  if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
}
