import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

import { UpstreamError } from '../../domain/errors.js';
import { ExportIncompleteError } from '../../domain/ports/classification-source.js';
import { PanoptesRefused } from '../../domain/ports/panoptes-client.js';
import { networkErrorCode } from '../http/retry.js';
import { outboundGetStream, type OutboundStreamOptions } from '../http/outbound-stream.js';

/*
 * Downloading a classification export from its signed link (the medium's
 * `src`). The link points at Zooniverse's storage, not at the API: it gets
 * no bearer token (the signature is the credential, and the token must not
 * leak to another host) and no API Accept header, and since the URL came
 * from an answer rather than from configuration it goes through the
 * outbound guard (https only and no private addresses, unless the operator
 * allow-lists the host: tests allow 127.0.0.1 over http).
 *
 * Panoptes stores the file gzipped and serves it with Content-Encoding:
 * gzip. fetch() would inflate that transparently; node:http does not; a
 * proxy or a copy may drop the header. So the header is not trusted either
 * way: the first two bytes decide (1f 8b is gzip, inflated here; anything
 * else passes as it is). The CSV is streamed, never held whole, and a file
 * that ends early (a cut connection, fewer bytes than Content-Length, a gzip
 * stream without its end) raises ExportIncompleteError from the stream
 * instead of ending quietly with part of the export.
 */

export type ExportDownloadOptions = Omit<OutboundStreamOptions, 'allowHttp'> & {
  /** Plain http:// links (dev and tests only). */
  allowHttp?: boolean;
  userAgent?: string;
};

/** The link has expired (or its signature is refused): read the medium again for a fresh one. */
export class ExportLinkRefused extends Error {}

const GZIP_MAGIC = [0x1f, 0x8b];

/** The inflated CSV of the export at `src`; throws before the first byte if the link is refused. */
export async function downloadExport(src: string, o: ExportDownloadOptions): Promise<AsyncIterable<Buffer>> {
  const host = safeHost(src);
  const res = await outboundGetStream(src, { accept: 'text/csv, application/gzip;q=0.9, */*;q=0.1', 'accept-encoding': 'gzip', 'user-agent': o.userAgent ?? 'rsp-zooniverse-bridge' }, { ...o, allowHttp: o.allowHttp ?? false });
  if (!res.ok) {
    if (res.reason.startsWith('refused')) throw new PanoptesRefused(`The export link Panoptes gave (${host}) was not followed: ${res.reason}.`, 'other');
    throw new UpstreamError(`The export could not be downloaded from ${host}: ${res.reason}.`);
  }
  if (res.status !== 200) {
    res.body.resume();
    // Object stores answer 403 to an expired or mis-signed link; a fresh link may work.
    if (res.status === 403) throw new ExportLinkRefused(`HTTP 403 from ${host}`);
    if (res.status >= 500 || res.status === 429) throw new UpstreamError(`The export download from ${host} answered HTTP ${res.status}.`, undefined, { status: res.status });
    throw new PanoptesRefused(`The export download from ${host} answered HTTP ${res.status}.`, 'other', { status: res.status });
  }
  const declared = Number(res.headers['content-length']);
  return inflated(res.body, Number.isFinite(declared) && declared >= 0 ? declared : undefined, host);
}

/** `body` as it arrives, checked against the length it declared, inflated when it is gzip. */
async function* inflated(body: Readable, declaredLength: number | undefined, host: string): AsyncGenerator<Buffer> {
  let received = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const c of body as AsyncIterable<Buffer>) {
      received += c.length;
      yield c;
    }
    if (declaredLength !== undefined && received < declaredLength) throw new Error(`${received} of ${declaredLength} bytes`);
  }
  const source = counted();
  try {
    // Enough bytes to tell gzip from plain text.
    const head: Buffer[] = [];
    let headLength = 0;
    while (headLength < GZIP_MAGIC.length) {
      const n = await source.next();
      if (n.done) break;
      head.push(n.value);
      headLength += n.value.length;
    }
    const first = Buffer.concat(head);
    const gzip = first.length >= 2 && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1];
    if (!gzip) {
      if (first.length) yield first;
      for await (const c of source) yield c;
      return;
    }
    const gunzip = createGunzip();
    const rest = (async function* () {
      yield first;
      yield* source;
    })();
    const piping = pipeline(Readable.from(rest), gunzip);
    piping.catch(() => undefined); // surfaced through gunzip below
    for await (const c of gunzip as AsyncIterable<Buffer>) yield c;
    await piping;
  } catch (e) {
    throw new ExportIncompleteError(`The export from ${host} ended before its end (${describe(e)}); the CSV read so far is incomplete. Download it again.`);
  } finally {
    body.destroy();
  }
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = networkErrorCode(e);
  return code === 'network error' ? msg : `${code}: ${msg}`;
}

/** The host only: the link's query is its signature, which stays out of messages and logs. */
function safeHost(src: string): string {
  try {
    return new URL(src).host;
  } catch {
    return 'an invalid URL';
  }
}
