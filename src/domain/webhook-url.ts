/**
 * Which addresses a PI-influenced URL (a webhook) may reach. Pure: the
 * outbound HTTP adapter applies `forbiddenAddress` to every address a host
 * resolves to at delivery time; registration (`setWebhook`) applies
 * `webhookUrlProblem` to the URL as typed, which catches literal addresses
 * early but cannot see DNS (the adapter's check is the one that counts).
 */

/** The rules an operator sets: plain http (dev only), and hosts exempt from the private-address check. */
export interface WebhookUrlRules {
  allowHttp: boolean;
  allowedHosts: readonly string[];
}

/** A URL's host as compared: lower case, IPv6 brackets removed. */
export function normalHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

export function isAllowListed(hostname: string, allowedHosts: readonly string[]): boolean {
  const h = normalHost(hostname);
  return allowedHosts.some((a) => normalHost(a.trim()) === h);
}

/** Four octets, or undefined if `s` is not a dotted-quad IPv4 address. */
function ipv4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return undefined;
  const n = parts.map(Number);
  return n.every((x) => x <= 255) ? n : undefined;
}

/** Eight 16-bit groups, or undefined if `s` is not an IPv6 address (embedded IPv4 and zone ids allowed). */
function ipv6(s: string): number[] | undefined {
  let t = s.replace(/%.*$/, '');
  if (!t.includes(':')) return undefined;
  const last = t.slice(t.lastIndexOf(':') + 1);
  if (last.includes('.')) {
    const v4 = ipv4(last);
    if (!v4) return undefined;
    t = `${t.slice(0, t.lastIndexOf(':') + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return undefined;
  const all = [...head, ...Array<string>(fill).fill('0'), ...tail];
  if (all.length !== 8 || !all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return all.map((g) => parseInt(g, 16));
}

export function isIpLiteral(host: string): boolean {
  const h = normalHost(host);
  return !!ipv4(h) || !!ipv6(h);
}

function forbiddenV4([a, b]: number[]): string | undefined {
  if (a === 0) return 'unspecified';
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  if (a === 169 && b === 254) return 'link-local';
  if (a === 100 && b >= 64 && b <= 127) return 'shared (CGNAT)';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved';
  return undefined;
}

/**
 * Why an address must not be reached (loopback, private, link-local,
 * multicast, unspecified, CGNAT, reserved; IPv4-mapped IPv6 judged as its
 * IPv4), or undefined for a public address. Anything that is not an IP
 * address is refused too.
 */
export function forbiddenAddress(address: string): string | undefined {
  const h = normalHost(address);
  const v4 = ipv4(h);
  if (v4) return forbiddenV4(v4);
  const g = ipv6(h);
  if (!g) return 'not an IP address';
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::a.b.c.d (NAT64): the IPv4 inside decides.
  const embedded = [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff];
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return forbiddenV4(embedded) ?? (g[5] === 0 ? 'reserved' : undefined);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return forbiddenV4(embedded);
  if ((g[0] & 0xfe00) === 0xfc00) return 'private';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'private'; // site-local, deprecated
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  return undefined;
}

/**
 * What is wrong with a webhook URL at registration, or undefined. Outside
 * dev (`allowHttp` false) it must be https and its host must not be a
 * literal non-public address or `localhost` unless the operator allow-listed
 * it. Delivery checks again, after DNS, in every mode.
 */
export function webhookUrlProblem(url: string, rules: WebhookUrlRules): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'must be a valid URL';
  }
  if (u.protocol !== 'https:' && !(rules.allowHttp && u.protocol === 'http:')) return 'must be an https:// URL';
  if (rules.allowHttp || isAllowListed(u.hostname, rules.allowedHosts)) return undefined;
  const h = normalHost(u.hostname);
  if (h === 'localhost' || h.endsWith('.localhost')) return 'must not point at a private, loopback or link-local address';
  if (isIpLiteral(h) && forbiddenAddress(h)) return 'must not point at a private, loopback or link-local address';
  return undefined;
}
