/*
 * What the results routes of the Panoptes double share (see
 * panoptes-results-routes.ts): their request and reply shapes, the refusal
 * they throw, and paging as Panoptes' NoCountSerializer writes it.
 */

export interface ResultsRequest {
  method: string;
  url: URL;
  body: string;
  params: string[];
  scopes: ReadonlySet<string>;
}

export interface ResultsReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  raw?: Buffer;
}


export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/** Panoptes refused: `{errors:[{message}]}` with this status. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function jsonBody(req: ResultsRequest): Record<string, unknown> {
  try {
    const v = JSON.parse(req.body || '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    throw new Refusal(400, 'There was a problem in the JSON you submitted');
  }
}

export function requireScope(req: ResultsRequest, scope: string): void {
  if (!req.scopes.has(scope)) throw new Refusal(403, `The access token does not have the '${scope}' scope this action requires.`);
}

export function pageOf<T>(q: URLSearchParams, rows: T[]): { page: number; size: number; slice: T[] } {
  const raw = q.get('page_size');
  let size = raw === null ? DEFAULT_PAGE_SIZE : Number.parseInt(raw, 10);
  if (!Number.isFinite(size)) size = DEFAULT_PAGE_SIZE;
  if (size <= 0) throw new Refusal(422, "Current page was incalculable. Perhaps you supplied 'page_size: 0' as a param?");
  size = Math.min(size, MAX_PAGE_SIZE);
  const page = Math.max(1, Number.parseInt(q.get('page') ?? '1', 10) || 1);
  return { page, size, slice: rows.slice((page - 1) * size, page * size) };
}

/** NoCountSerializer's meta: no counts, and a next page whenever this one is not empty. */
export function noCountMeta(page: number, size: number, nonEmpty: boolean, href: (p: number | null) => string | null) {
  const next = nonEmpty ? page + 1 : null;
  return {
    page,
    page_size: size,
    count: 0,
    include: [] as string[],
    page_count: 0,
    previous_page: page - 1,
    next_page: next,
    first_href: href(1),
    previous_href: href(page - 1),
    next_href: href(next),
    last_href: href(0),
  };
}
