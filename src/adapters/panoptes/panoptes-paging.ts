import { z } from 'zod';

import { UpstreamError } from '../../domain/errors.js';
import { PanoptesUnreadable } from '../../domain/ports/panoptes-client.js';
import type { Answer, Call } from './panoptes-transport.js';

/** What paging needs of the transport. */
export interface Pager {
  send(call: Call): Promise<Answer>;
  readonly host: string;
  readonly pageSize: number;
}

/** Pages of a listing asked for ahead of the one being read, when Panoptes says how many there are. */
const PAGES_AHEAD = 3;

const PageMeta = z.object({
  page: z.number().int(),
  page_count: z.number().int().nullish(),
  count: z.number().int().nullish(),
  next_page: z.number().int().nullish(),
  next_href: z.string().nullish(),
});

/**
 * Every item of a listing, page by page, as Panoptes' meta.<type> says.
 * Where the meta gives the page count, the next PAGES_AHEAD pages are
 * asked for while this one is read: a 2,000-subject set is 20 pages, and
 * reading them one after the other cost 20 round trips (2 s at 100 ms).
 * Items still come in page order, and a page that fails fails the listing
 * where it would have been read.
 */
export async function* readPages<S extends z.ZodType>(http: Pager, path: string, key: string, query: Record<string, string | undefined>, schema: S, what: string): AsyncGenerator<z.output<S>> {
  const fetchPage = (page: number) => {
    const p = http.send({ method: 'GET', path, query: { ...query, page: String(page), page_size: String(http.pageSize) }, what: `${what} (page ${page})` });
    // Read (and its failure seen) in page order below; a page read ahead and never read must not be an unhandled rejection.
    p.catch(() => {});
    return p;
  };
  const ahead = new Map<number, ReturnType<typeof fetchPage>>();
  let page = 1;
  for (;;) {
    const a = await (ahead.get(page) ?? fetchPage(page));
    ahead.delete(page);
    const body = a.body as Record<string, unknown> | null;
    const items = z.array(schema).safeParse(body?.[key]);
    if (!items.success) throw new PanoptesUnreadable(`Panoptes (${http.host}) sent a ${key} listing this client cannot read: ${z.prettifyError(items.error)}`);
    const meta = PageMeta.safeParse((body?.meta as Record<string, unknown> | undefined)?.[key]);
    if (!meta.success) throw new PanoptesUnreadable(`Panoptes (${http.host}) sent a ${key} listing without paging information.`);
    const next = meta.data.next_page ?? (meta.data.next_href ? page + 1 : undefined);
    if (next !== undefined && next <= page) throw new UpstreamError(`Panoptes (${http.host}) pointed the ${key} listing back to page ${next} from page ${page}.`);
    if (next === page + 1 && meta.data.page_count) {
      for (let p = next; p <= Math.min(meta.data.page_count, page + PAGES_AHEAD); p++) if (!ahead.has(p)) ahead.set(p, fetchPage(p));
    }
    for (const item of items.data) yield item;
    if (next === undefined) return;
    page = next;
  }
}
