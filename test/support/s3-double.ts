import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * An S3 endpoint for tests: s3rver (in-process, on disk) behind a small
 * proxy of ours. The proxy adds what s3rver lacks and real S3 does, plus
 * fault injection:
 * - verifies x-amz-checksum-sha256 against the received body (BadDigest),
 *   as S3 does; s3rver ignores flexible checksums;
 * - answers AbortMultipartUpload, which s3rver does not route;
 * - records every request, so tests can assert what went over the wire;
 * - injects faults (HTTP errors, a flipped byte, a dropped connection, a
 *   stall longer than the client's timeout).
 * s3rver ships no types, hence createRequire and the local interface.
 */
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (opts: {
  port: number;
  address: string;
  directory: string;
  silent: boolean;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyLength: number;
}

export type FaultAction = { status: number; code: string } | 'flip-byte' | 'drop-connection' | { stallMs: number };
export interface Fault {
  match: (r: Seen) => boolean;
  remaining: number;
  action: FaultAction;
}

export interface S3Double {
  endpoint: string;
  /** Every request, in arrival order. */
  seen: Seen[];
  /** Push to inject; the first matching fault with attempts remaining fires. */
  faults: Fault[];
  stop(): Promise<void>;
}

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

function errorXml(code: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected ${code}</Message><RequestId>test</RequestId></Error>`;
}

export async function startS3Double(buckets: string[]): Promise<S3Double> {
  const dataDir = await mkdtemp(join(tmpdir(), 's3rver-'));
  const s3rver = new S3rver({ port: 0, address: '127.0.0.1', directory: dataDir, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
  const { port: backendPort } = await s3rver.run();
  const seen: Seen[] = [];
  const faults: Fault[] = [];

  const proxy: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyLength: body.byteLength };
      seen.push(entry);
      const reply = (status: number, code: string): void => {
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(req.method === 'HEAD' ? undefined : errorXml(code));
      };

      const fault = faults.find((f) => f.remaining > 0 && f.match(entry));
      if (fault) {
        fault.remaining--;
        const a = fault.action;
        if (a === 'drop-connection') {
          req.socket.destroy();
          return;
        }
        if (a === 'flip-byte') {
          body = Buffer.from(body);
          body[0] ^= 0xff;
        } else if ('stallMs' in a) {
          // Never answered in time: the client's timeout fires, then the connection goes.
          setTimeout(() => req.socket.destroy(), a.stallMs);
          return;
        } else {
          reply(a.status, a.code);
          return;
        }
      }
      if (req.method === 'DELETE' && /[?&]uploadId=/.test(entry.url)) {
        res.writeHead(204).end();
        return;
      }
      if (String(req.headers['content-encoding'] ?? '').includes('aws-chunked')) {
        reply(501, 'NotImplemented');
        return;
      }
      const claimed = req.headers['x-amz-checksum-sha256'];
      if (typeof claimed === 'string' && createHash('sha256').update(body).digest('base64') !== claimed) {
        reply(400, 'BadDigest');
        return;
      }

      const headers = { ...req.headers, 'content-length': String(body.byteLength) };
      delete headers.expect;
      const upstream = request({ host: '127.0.0.1', port: backendPort, method: req.method, path: req.url, headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    seen,
    faults,
    async stop() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await s3rver.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
