import { createHmac, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';

import { exportCsv, type ExportRowInput } from './panoptes-export-csv.js';
import { DEFAULT_PAGE_SIZE, Refusal, jsonBody, requireScope, type ResultsReply, type ResultsRequest } from './panoptes-results-http.js';

/*
 * Classification exports in the Panoptes double (routed here by
 * panoptes-results-routes.ts), as the Panoptes source has them
 * (CreateOrUpdateMedium, ClassificationsDumpWorker, RateLimitDumpWorker):
 * POST .../classifications_export (scope 'project') updates the one medium
 * of the resource (metadata.state 'creating', updated_at touched) and queues
 * the dump; more than one dump per medium per 24 h (by the double's clock)
 * is cancelled silently, so that medium stays 'creating' with the older file
 * behind it (panoptes#2623). GET shows the medium (404 when none); the dump
 * finishes after `exportPollsUntilReady` GETs. `src` is a link signed for
 * `exportLinkTtlSeconds`, served under /exports/ (the object store: no
 * token, no Accept header), gzipped with Content-Encoding: gzip, or by
 * `exportEncoding` gzipped without the header, or plain.
 */

export interface ExportsOptions {
  /** GETs of a requested export that still show 'creating' (default 1). */
  exportPollsUntilReady?: number;
  /** Lifetime of a signed download link (default 180 s). */
  exportLinkTtlSeconds?: number;
  exportEncoding?: 'gzip' | 'gzip-no-header' | 'identity';
}

/** What the exports need from the rest of the double. */
export interface ExportsHost {
  readonly url: string;
  readonly userId: string;
  now(): number;
  /** The project of a project or workflow id, if the account may update it. */
  updatableProject(kind: 'projects' | 'workflows', id: string): string | undefined;
  /** The dump's rows, every classification of the resource as of now. */
  dumpRows(kind: 'projects' | 'workflows', id: string): ExportRowInput[];
}

export interface DoubleExport {
  id: string;
  kind: 'projects' | 'workflows';
  resourceId: string;
  state: 'creating' | 'ready';
  createdAt: string;
  updatedAt: string;
  /** The gzipped CSV of the last dump that finished. */
  file?: Buffer;
  /** Dumps honoured (clock ms); the rate limit counts these. */
  honoured: number[];
  /** Requests accepted and then cancelled by the rate limit. */
  cancelled: number;
  /** The queued dump: GETs left before it finishes. */
  pending?: { pollsLeft: number };
}

const DAY_MS = 24 * 60 * 60_000;

export class ExportsDouble {
  exportPollsUntilReady: number;
  exportLinkTtlSeconds: number;
  exportEncoding: 'gzip' | 'gzip-no-header' | 'identity';
  /** Downloads served (any outcome). */
  downloads = 0;
  private readonly exports = new Map<string, DoubleExport>();
  private readonly signingKey = randomBytes(16);
  private nextMediaId = 300;

  constructor(
    private readonly host: ExportsHost,
    opts: ExportsOptions = {},
  ) {
    this.exportPollsUntilReady = opts.exportPollsUntilReady ?? 1;
    this.exportLinkTtlSeconds = opts.exportLinkTtlSeconds ?? 180;
    this.exportEncoding = opts.exportEncoding ?? 'gzip';
  }

  exportOf(kind: 'project' | 'workflow', id: string): DoubleExport | undefined {
    return this.exports.get(`${kind}s/${id}`);
  }

  private resource(req: ResultsRequest): { kind: 'projects' | 'workflows'; id: string } {
    const [kind, id] = req.params as ['projects' | 'workflows', string];
    if (this.host.updatableProject(kind, id) === undefined) throw new Refusal(404, `Could not find ${kind.slice(0, -1)} with id='${id}'`);
    return { kind, id };
  }

  create(req: ResultsRequest): ResultsReply {
    requireScope(req, 'project');
    const { kind, id } = this.resource(req);
    const body = jsonBody(req);
    const media = body.media;
    if (media !== undefined && (typeof media !== 'object' || media === null || Array.isArray(media))) throw new Refusal(422, 'Media is not a valid hash');
    const ct = (media as { content_type?: unknown } | undefined)?.content_type;
    if (ct !== undefined && typeof ct !== 'string') throw new Refusal(422, 'Content type is not a valid string');
    const t = this.host.now();
    const key = `${kind}/${id}`;
    const at = new Date(t).toISOString();
    const m: DoubleExport = this.exports.get(key) ?? { id: String(this.nextMediaId++), kind, resourceId: id, state: 'creating', createdAt: at, updatedAt: at, honoured: [], cancelled: 0 };
    this.exports.set(key, m);
    // CreateOrUpdateMedium: every request marks the medium 'creating' and touches it, honoured or not.
    m.state = 'creating';
    m.updatedAt = at;
    const recent = m.honoured.filter((h) => t - h < DAY_MS);
    if (recent.length >= 1) {
      // Sidekiq congestion (1 per 86400 s per medium, reject_with: cancel): the job never runs.
      m.cancelled++;
      m.pending = undefined;
    } else {
      m.honoured.push(t);
      m.pending = { pollsLeft: this.exportPollsUntilReady };
    }
    return {
      status: 201,
      body: { media: [this.mediumJson(m)], links: {} },
      headers: { location: `${this.host.url}/api/${kind}/${id}/classifications_export`, 'last-modified': new Date(t).toUTCString() },
    };
  }

  show(req: ResultsRequest): ResultsReply {
    const { kind, id } = this.resource(req);
    const m = this.exports.get(`${kind}/${id}`);
    if (!m) throw new Refusal(404, `No classifications_export exists for ${kind.slice(0, -1)} #${id}`);
    if (m.pending) {
      if (m.pending.pollsLeft <= 0) this.finishDump(m);
      else m.pending.pollsLeft--;
    }
    const meta = { page: 1, page_size: DEFAULT_PAGE_SIZE, count: 1, include: [], page_count: 1, previous_page: null, next_page: null };
    return { status: 200, body: { media: [this.mediumJson(m)], links: {}, meta: { media: meta } } };
  }

  /** The dump worker: every classification of the resource, now. */
  private finishDump(m: DoubleExport): void {
    const rows = this.host.dumpRows(m.kind, m.resourceId);
    m.file = gzipSync(Buffer.from(exportCsv(rows, m.id + String(this.host.now())), 'utf8'));
    m.state = 'ready';
    m.updatedAt = new Date(this.host.now()).toISOString();
    m.pending = undefined;
  }

  private mediumJson(m: DoubleExport): unknown {
    const singular = m.kind.slice(0, -1);
    const name = `${singular}_classifications_export`;
    const expires = Math.floor(this.host.now() / 1000) + this.exportLinkTtlSeconds;
    const file = `${name}_${m.resourceId}.csv`;
    return {
      id: m.id,
      href: `/${m.kind}/${m.resourceId}/classifications_export`,
      src: `${this.host.url}/exports/${m.id}/${file}?expires=${expires}&signature=${this.sign(m.id, expires)}`,
      content_type: 'text/csv',
      media_type: name,
      external_link: false,
      created_at: m.createdAt,
      updated_at: m.updatedAt,
      metadata: { recipients: [Number(this.host.userId)], state: m.state },
      links: { linked: { id: m.resourceId, type: m.kind, href: `/${m.kind}/${m.resourceId}` } },
    };
  }

  private sign(mediaId: string, expires: number): string {
    return createHmac('sha256', this.signingKey).update(`${mediaId}:${expires}`).digest('hex');
  }

  /** The object store behind `src`: a signed link, not the API (no token, no Accept header). */
  download(req: ResultsRequest): ResultsReply {
    this.downloads++;
    const xml = (status: number, code: string, message: string): ResultsReply => ({
      status,
      raw: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`),
      headers: { 'content-type': 'application/xml' },
    });
    const [mediaId] = req.params;
    const expires = Number(req.url.searchParams.get('expires'));
    if (req.url.searchParams.get('signature') !== this.sign(mediaId, expires)) return xml(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    if (!Number.isFinite(expires) || this.host.now() / 1000 > expires) return xml(403, 'AccessDenied', 'Request has expired');
    const m = [...this.exports.values()].find((e) => e.id === mediaId);
    if (!m?.file) return xml(404, 'NoSuchKey', 'The specified key does not exist.');
    if (this.exportEncoding === 'identity') return { status: 200, raw: gunzipSync(m.file), headers: { 'content-type': 'text/csv' } };
    const headers: Record<string, string> = { 'content-type': 'text/csv', 'content-disposition': `attachment; filename="${m.kind}-classifications.csv"` };
    if (this.exportEncoding === 'gzip') headers['content-encoding'] = 'gzip';
    return { status: 200, raw: m.file, headers };
  }
}
