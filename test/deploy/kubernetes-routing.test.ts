import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { QUEUE_NAMES } from '../../src/domain/jobs.js';
import { buildStore } from '../../src/app/store.js';
import { build, KUSTOMIZE_ROOT, type K8sObject } from './kustomize.js';
import { configMapData, containersOf, envOf, find, findAll, processEnv, bridgeContainers } from './manifest-access.js';

/**
 * Worker autoscaling and the ingresses of deploy/kubernetes, checked against
 * what the bridge really does: the queue keys BullMQ writes, the Redis the
 * bridge connects to, the URLs it writes for published images, the scope
 * and token its authentication expects.
 */

const builds: [string, K8sObject[]][] = [
  ['base', build(join(KUSTOMIZE_ROOT, 'base'))],
  ['overlays/example', build(join(KUSTOMIZE_ROOT, 'overlays', 'example'))],
];
const overlay = builds[1][1];

interface Trigger {
  type: string;
  name?: string;
  metadata: Record<string, string>;
  authenticationRef?: { name: string };
}
interface ScaledObjectSpec {
  scaleTargetRef: { apiVersion?: string; kind?: string; name: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  triggers: Trigger[];
}
interface Path {
  path: string;
  pathType: string;
  backend: { service: { name: string; port: { name?: string; number?: number } } };
}
interface IngressLike {
  annotations: Record<string, string>;
  hosts: string[];
  tlsHosts: string[];
  paths: Path[];
}

/** A plain Ingress or a GafaelfawrIngress's template, read the same way. */
function ingressView(o: K8sObject): IngressLike {
  const t = o.kind === 'GafaelfawrIngress' ? (o.template as { metadata: { annotations?: Record<string, string> }; spec: IngressSpec }) : { metadata: o.metadata as { annotations?: Record<string, string> }, spec: o.spec as IngressSpec };
  return {
    annotations: t.metadata.annotations ?? {},
    hosts: t.spec.rules.map((r) => r.host),
    tlsHosts: (t.spec.tls ?? []).flatMap((x) => x.hosts),
    paths: t.spec.rules.flatMap((r) => r.http.paths),
  };
}
interface IngressSpec {
  rules: { host: string; http: { paths: Path[] } }[];
  tls?: { hosts: string[] }[];
}

const ingresses = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Ingress' || o.kind === 'GafaelfawrIngress');

describe('worker autoscaling on queue depth', () => {
  for (const [name, objects] of builds) {
    it(`${name}: the ScaledObject scales the worker Deployment on every queue's BullMQ wait list`, () => {
      const so = find(objects, 'ScaledObject').spec as ScaledObjectSpec;
      const target = find(objects, so.scaleTargetRef.kind ?? 'Deployment', so.scaleTargetRef.name);
      expect(so.scaleTargetRef.apiVersion ?? 'apps/v1').toBe(target.apiVersion);
      expect(containersOf(target)[0].command).toEqual(expect.arrayContaining(['serve', '--role', 'worker']));
      // KEDA owns the count: a replicas field would reset it at every apply.
      expect((target.spec as Record<string, unknown>).replicas).toBeUndefined();
      // Workers move delayed and scheduled jobs into the wait lists: none, and nothing would ever scale up.
      expect(so.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(so.maxReplicaCount!).toBeGreaterThanOrEqual(so.minReplicaCount!);

      const prefix = configMapData(objects).QUEUE_PREFIX;
      expect(prefix, 'QUEUE_PREFIX must be set for the triggers to name the keys').toBeDefined();
      expect(so.triggers.every((t) => t.type === 'redis')).toBe(true);
      expect(so.triggers.map((t) => t.metadata.listName).sort()).toEqual(QUEUE_NAMES.map((q) => `${prefix}:${q}:wait`).sort());
      for (const t of so.triggers) expect(Number(t.metadata.listLength), t.name).toBeGreaterThan(0);
    });

    it(`${name}: the triggers read the Redis the bridge uses, with the same password and database`, () => {
      const so = find(objects, 'ScaledObject').spec as ScaledObjectSpec;
      const env = envOf(bridgeContainers(objects)[0]);
      const redisUrl = new URL(processEnv(objects).REDIS_URL);
      const service = find(objects, 'Service', redisUrl.hostname);
      const port = (service.spec as { ports: { port: number }[] }).ports[0].port;
      expect(Number(redisUrl.port || 6379)).toBe(port);
      const namespace = service.metadata.namespace;
      for (const t of so.triggers) {
        // KEDA resolves names from its own namespace: the Service's full name.
        const [host, p] = t.metadata.address.split(':');
        expect(host.startsWith(`${redisUrl.hostname}.`) && host.endsWith('.svc.cluster.local'), t.metadata.address).toBe(true);
        if (namespace) expect(host).toBe(`${redisUrl.hostname}.${namespace}.svc.cluster.local`);
        expect(Number(p)).toBe(port);
        expect(t.metadata.databaseIndex ?? '0').toBe(redisUrl.pathname.replace(/\//g, '') || '0');
        const auth = find(objects, 'TriggerAuthentication', t.authenticationRef!.name).spec as { secretTargetRef: { parameter: string; name: string; key: string }[] };
        const password = auth.secretTargetRef.find((r) => r.parameter === 'password')!;
        // REDIS_URL's password is $(REDIS_PASSWORD): the same Secret key.
        const ref = env.find((e) => e.name === 'REDIS_PASSWORD')!.valueFrom!.secretKeyRef!;
        expect({ name: password.name, key: password.key }).toEqual({ name: ref.name, key: ref.key });
      }
    });

    it(`${name}: Redis runs with maxmemory-policy noeviction, persisted, and the password the bridge is given`, () => {
      const redis = containersOf(find(objects, 'StatefulSet', 'zooniverse-bridge-redis'))[0];
      const args = redis.args!.join(' ');
      expect(args).toContain('--maxmemory-policy noeviction');
      expect(args).toContain('--appendonly yes');
      expect(args).toContain('--requirepass $(REDIS_PASSWORD)');
      const own = envOf(redis).find((e) => e.name === 'REDIS_PASSWORD')!.valueFrom!.secretKeyRef;
      const bridge = envOf(bridgeContainers(objects)[0]).find((e) => e.name === 'REDIS_PASSWORD')!.valueFrom!.secretKeyRef;
      expect(own).toEqual(bridge);
    });
  }
});

describe('ingress', () => {
  for (const [name, objects] of builds) {
    it(`${name}: every ingress serves the host of PUBLIC_BASE_URL, over TLS`, () => {
      const host = new URL(configMapData(objects).PUBLIC_BASE_URL).hostname;
      expect(ingresses(objects)).toHaveLength(3);
      for (const o of ingresses(objects)) {
        const v = ingressView(o);
        expect(v.hosts, o.metadata.name).toEqual([host]);
        expect(v.tlsHosts, o.metadata.name).toEqual([host]);
      }
    });

    it(`${name}: /public serves the images the bridge publishes, from the public bucket, with no authentication`, async () => {
      const env = processEnv(objects);
      const config = loadConfig(env);
      const pub = ingresses(objects).find((o) => ingressView(o).paths.some((p) => p.path.startsWith('/public')))!;
      const v = ingressView(pub);
      expect(Object.keys(v.annotations).filter((k) => k.includes('/auth-'))).toEqual([]);
      if (pub.kind === 'GafaelfawrIngress') expect((pub.config as { scopes: unknown }).scopes).toEqual({ anonymous: true });
      const store = find(objects, 'Service', v.paths[0].backend.service.name).spec as { type: string; externalName: string };
      expect(store.type).toBe('ExternalName');
      expect(store.externalName).toBe(new URL(config.S3_ENDPOINT!).hostname);
      expect(v.annotations['nginx.ingress.kubernetes.io/upstream-vhost']).toBe(store.externalName);
      expect(v.annotations['nginx.ingress.kubernetes.io/backend-protocol']).toBe('HTTPS');
      expect(config.S3_FORCE_PATH_STYLE).toBe(true);
      // The URL the bridge writes for a published image, through this ingress's rewrite, is the object in the public bucket.
      const { store: s3, close } = await buildStore(config);
      try {
        const key = 'images/3f1c/stamp-1.png';
        const url = new URL(s3.publicUrl(key));
        expect(url.origin).toBe(new URL(config.PUBLIC_BASE_URL!).origin);
        const pattern = new RegExp(`^${v.paths[0].path}$`);
        expect(pattern.test(url.pathname), url.pathname).toBe(true);
        const upstream = url.pathname.replace(pattern, v.annotations['nginx.ingress.kubernetes.io/rewrite-target']);
        expect(upstream).toBe(`/${config.S3_PUBLIC_BUCKET}/${key}`);
      } finally {
        close();
      }
    });
  }

  for (const [name, objects] of builds) {
    it(`${name}: writes from another origin are refused before they reach the bridge as bearer calls`, () => {
      const api = ingresses(objects).find((o) => o.metadata.name === 'zooniverse-bridge-api')!;
      const snippet = ingressView(api).annotations['nginx.ingress.kubernetes.io/configuration-snippet'];
      const [, methods] = /\$request_method !~ "([^"]+)"/.exec(snippet)!;
      const [, origins] = /\$http_origin !~ "([^"]+)"/.exec(snippet)!;
      expect(snippet).toMatch(/if \(\$bridge_write = "write-foreign"\) \{ return 403; \}/);
      const safe = new RegExp(methods);
      expect(['GET', 'HEAD', 'OPTIONS'].every((m) => safe.test(m)) && !['POST', 'PUT', 'PATCH', 'DELETE'].some((m) => safe.test(m))).toBe(true);
      const allowed = new RegExp(origins);
      const own = new URL(configMapData(objects).PUBLIC_BASE_URL);
      // The pages' own writes, and notebooks (no Origin), pass; another host of the same site does not.
      expect(allowed.test(own.origin)).toBe(true);
      expect(allowed.test('')).toBe(true);
      expect(allowed.test(`https://evil.${own.hostname.split('.').slice(1).join('.')}`)).toBe(false);
      expect(allowed.test(`${own.origin}.evil.org`)).toBe(false);
    });
  }

  it('base: the API ingress asks Gafaelfawr for a token delegated to the bridge, in the Authorization header', () => {
    const base = builds[0][1];
    const v = ingressView(find(base, 'Ingress', 'zooniverse-bridge-api'));
    const auth = new URL(v.annotations['nginx.ingress.kubernetes.io/auth-url']);
    expect(auth.pathname).toBe('/ingress/auth');
    const scopes = auth.searchParams.getAll('scope');
    expect(scopes.length).toBeGreaterThan(0);
    expect(auth.searchParams.get('delegate_to')).toBe('zooniverse-bridge');
    // Gafaelfawr strips the caller's own token: without these the bridge would see nobody.
    expect(auth.searchParams.get('use_authorization')).toBe('true');
    expect(auth.searchParams.getAll('delegate_scope').flatMap((s) => s.split(','))).toEqual(expect.arrayContaining(scopes));
    expect(v.annotations['nginx.ingress.kubernetes.io/auth-response-headers'].split(',')).toEqual(expect.arrayContaining(['Authorization', 'Cookie']));
    expect(v.paths.map((p) => [p.path, p.backend.service.name])).toEqual([['/', 'zooniverse-bridge-api']]);
    // The bridge checks Gafaelfawr's opaque tokens at its user-info service.
    expect(configMapData(base).OIDC_USER_INFO_GROUPS_URL).toMatch(/\/auth\/api\/v1\/user-info$/);
  });

  it('overlay: GafaelfawrIngresses replace the plain ones path for path, and hand the bridge a token it accepts', () => {
    const base = builds[0][1];
    expect(findAll(overlay, 'Ingress')).toEqual([]);
    const routes = (xs: K8sObject[]) => xs.flatMap((o) => ingressView(o).paths.map((p) => `${p.path} ${p.pathType} ${p.backend.service.name}`)).sort();
    expect(routes(ingresses(overlay))).toEqual(routes(ingresses(base)));

    const data = configMapData(overlay);
    const api = find(overlay, 'GafaelfawrIngress', 'zooniverse-bridge-api') as K8sObject & { config: { baseUrl?: string; service?: string; scopes: { all?: string[] }; delegate?: { internal?: { service: string; scopes: string[] }; useAuthorization?: boolean } } };
    const c = api.config;
    expect(c.delegate?.useAuthorization).toBe(true);
    expect(c.delegate?.internal?.service).toBe(c.service);
    // The bridge refuses tokens without OIDC_REQUIRED_SCOPE: it must be required here and carried by the delegated token.
    if (data.OIDC_REQUIRED_SCOPE) {
      expect(c.scopes.all).toContain(data.OIDC_REQUIRED_SCOPE);
      expect(c.delegate?.internal?.scopes).toContain(data.OIDC_REQUIRED_SCOPE);
    }
    // One Gafaelfawr: the issuer the bridge signs in with, and the user-info it checks tokens at.
    expect(c.baseUrl).toBe(data.OIDC_ISSUER);
    expect(data.OIDC_USER_INFO_GROUPS_URL).toBe(`${data.OIDC_ISSUER}/auth/api/v1/user-info`);
    for (const name of ['zooniverse-bridge-anonymous', 'zooniverse-bridge-public']) {
      expect((find(overlay, 'GafaelfawrIngress', name) as K8sObject & { config: { scopes: unknown } }).config.scopes).toEqual({ anonymous: true });
    }
  });
});
