import { z } from 'zod';

import { UpstreamError, UpstreamRefusedError } from '../../domain/errors.js';
import { PanoptesRefused } from '../../domain/ports/panoptes-client.js';
import { networkErrorCode, transientAnswer, type TransientStatuses } from '../http/retry.js';
import { refusalOf } from './refusal.js';

/*
 * The bearer token of the bridge's Zooniverse application: an OAuth2
 * client_credentials grant at Panoptes' Doorkeeper endpoint (/oauth/token).
 *
 * Tokens last about two hours and long uploads outlive them (a known client
 * bug lost its token around 40k subjects), so the token is replaced before it
 * expires, by our clock: min(5 min, 10% of its lifetime) early. A token the
 * server rejects anyway (clock skew, revocation) is dropped with
 * invalidate(), and the next get() fetches a new one. Concurrent callers share
 * one fetch.
 *
 * The client secret travels only in the form body of the token request: never
 * in a URL, never in an error message.
 */

export interface ClientCredentialsOptions {
  /** e.g. https://www.zooniverse.org/oauth/token */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated Panoptes scopes. */
  scope?: string;
  now?: () => number;
  timeoutMs?: number;
  userAgent?: string;
}

/** Doorkeeper always sends expires_in; if it ever does not, assume the documented two hours. */
const DEFAULT_LIFETIME_S = 7200;
const MAX_MARGIN_MS = 5 * 60_000;
/** Trouble that may pass (Retry-After read on any of it); the Panoptes client counts it as one failed attempt and tries again. */
const TRANSIENT: TransientStatuses = { below500: new Set([429]), retryAfter: 'all' };

const TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().positive().optional(),
  scope: z.string().optional(),
});

interface Held {
  value: string;
  refreshAt: number;
}

export class ClientCredentialsToken {
  private held: Held | undefined;
  private inflight: Promise<string> | undefined;
  private readonly now: () => number;
  private readonly host: string;

  constructor(private readonly opts: ClientCredentialsOptions) {
    if (!opts.clientId || !opts.clientSecret) throw new UpstreamRefusedError('No Zooniverse client id/secret is configured, so Panoptes cannot be asked.');
    this.now = opts.now ?? Date.now;
    this.host = new URL(opts.tokenUrl).host;
  }

  /** A token that our clock says is still good for a while. */
  async get(): Promise<string> {
    if (this.held && this.now() < this.held.refreshAt) return this.held.value;
    this.inflight ??= this.fetchToken().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** The server refused `token`: forget it, unless a newer one has replaced it already. */
  invalidate(token: string): void {
    if (this.held?.value === token) this.held = undefined;
  }

  private async fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.opts.clientId, client_secret: this.opts.clientSecret });
    if (this.opts.scope) form.set('scope', this.opts.scope);
    const started = this.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.opts.tokenUrl, {
        method: 'POST',
        headers: {
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
          'user-agent': this.opts.userAgent ?? 'rsp-zooniverse-bridge',
        },
        body: form.toString(),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
      text = await res.text();
    } catch (e) {
      throw new UpstreamError(`The Zooniverse token endpoint (${this.host}) could not be reached (${networkErrorCode(e)}).`);
    }
    const said = this.describe(text);
    const again = transientAnswer(res, TRANSIENT, this.now());
    if (again) {
      throw new UpstreamError(`The Zooniverse token endpoint (${this.host}) answered HTTP ${res.status}${said}.`, again.retryAfterMs, { status: res.status });
    }
    if (res.status === 400 || res.status === 401) {
      throw new PanoptesRefused(
        `The Zooniverse token endpoint (${this.host}) refused the bridge's client credentials (HTTP ${res.status}${said}); check the Zooniverse client id and secret and the requested scopes.`,
        refusalOf(res.status),
        { status: res.status },
      );
    }
    if (res.status !== 200) throw new PanoptesRefused(`The Zooniverse token endpoint (${this.host}) answered HTTP ${res.status}${said}.`, refusalOf(res.status), { status: res.status });
    let parsed: z.infer<typeof TokenResponse>;
    try {
      parsed = TokenResponse.parse(JSON.parse(text));
    } catch {
      throw new UpstreamError(`The Zooniverse token endpoint (${this.host}) sent an answer without an access token.`);
    }
    if (parsed.token_type && parsed.token_type.toLowerCase() !== 'bearer') {
      throw new PanoptesRefused(`The Zooniverse token endpoint (${this.host}) issued a '${parsed.token_type}' token; the bridge only speaks Bearer.`, 'other');
    }
    const lifetimeMs = (parsed.expires_in ?? DEFAULT_LIFETIME_S) * 1000;
    // Counted from before the request: the server's clock started no earlier.
    this.held = { value: parsed.access_token, refreshAt: started + lifetimeMs - Math.min(MAX_MARGIN_MS, lifetimeMs / 10) };
    return parsed.access_token;
  }

  /** OAuth error text, with the secret taken out in case the server echoes it. */
  private describe(text: string): string {
    let msg = '';
    try {
      const j = JSON.parse(text) as { error?: unknown; error_description?: unknown; errors?: { message?: unknown }[] };
      const parts = [j.error, j.error_description, j.errors?.[0]?.message].filter((x): x is string => typeof x === 'string' && x.length > 0);
      msg = parts.join(': ');
    } catch {
      msg = text.trim().slice(0, 200);
    }
    msg = msg.split(this.opts.clientSecret).join('[redacted]');
    return msg ? `: ${msg}` : '';
  }
}
