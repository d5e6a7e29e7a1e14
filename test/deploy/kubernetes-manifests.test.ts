import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { configSchema, loadConfig, SECRET_KEYS, isLoopback } from '../../src/config/config.js';
import { serveCommand } from '../../src/cli/serve-command.js';
import { migrateCommand } from '../../src/cli/migrate-command.js';
import { mediaSigner } from '../../src/api/media.js';
import { CAESAR_INTAKE_PATH } from '../../src/api/caesar-routes.js';
import type { CliContext } from '../../src/cli/context.js';
import { build, kustomizationFiles, KUSTOMIZE_ROOT, objectKey, readYamlDocuments, splitImage, type K8sObject } from './kustomize.js';
import { gafaelfawrIngressSchema, schemaProblems, unknownFields } from './k8s-schemas.js';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { bridgeContainers, configMapData, containersOf, envOf, find, findAll, podSpecOf, secretSourcedNames, processEnv, type Container } from './manifest-access.js';

/**
 * deploy/kubernetes as `kubectl apply -k` would create it: every object valid
 * against its schema, and wired to what the bridge really reads and serves.
 * Autoscaling and ingress are checked in kubernetes-routing.test.ts, and
 * against the running bridge and Redis in kubernetes-live.test.ts.
 */

const BASE = join(KUSTOMIZE_ROOT, 'base');
const OVERLAY = join(KUSTOMIZE_ROOT, 'overlays', 'example');
const builds: [string, K8sObject[]][] = [
  ['base', build(BASE)],
  ['overlays/example', build(OVERLAY)],
];
const overlay = builds[1][1];

function kubectlKustomize(dir: string): K8sObject[] | undefined {
  try {
    const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

describe('the manifests as kustomize builds them', () => {
  it('every YAML file under deploy/kubernetes is read by a kustomization, and parses', () => {
    const all = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? all(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []));
    const used = new Set(kustomizationFiles(OVERLAY));
    for (const f of all(KUSTOMIZE_ROOT)) {
      expect(used.has(f), `${relative(KUSTOMIZE_ROOT, f)} is in no kustomization: kubectl apply -k would leave it out`).toBe(true);
      expect(readYamlDocuments(f).length).toBeGreaterThan(0);
    }
  });

  it.runIf(kubectlKustomize(BASE) !== undefined)('the builder here gives what kubectl kustomize gives', () => {
    for (const [name, objects] of builds) {
      const real = kubectlKustomize(join(KUSTOMIZE_ROOT, name))!;
      const byKey = (xs: K8sObject[]) => Object.fromEntries(xs.map((o) => [objectKey(o), o]));
      expect(byKey(objects), name).toEqual(byKey(real));
    }
  });

  it('the builder refuses kustomization fields and patches it does not implement', () => {
    // A sanity check of the builder itself, on the real files with one thing added.
    expect(() => build(join(KUSTOMIZE_ROOT, '..', '..', 'test', 'deploy', 'fixtures', 'unsupported-field'))).toThrow(/does not implement: commonLabels/);
    expect(() => build(join(KUSTOMIZE_ROOT, '..', '..', 'test', 'deploy', 'fixtures', 'list-patch'))).toThrow(/lists in patches/);
  });

  for (const [name, objects] of builds) {
    it(`${name}: every object is valid against its Kubernetes schema, with no unknown field`, () => {
      const problems = objects.flatMap((o) => schemaProblems(o).map((p) => `${o.kind}/${o.metadata.name} ${p}`));
      expect(problems).toEqual([]);
    });
  }

  it('the schema check fails where the API server would refuse', () => {
    const api = structuredClone(find(overlay, 'Deployment', 'zooniverse-bridge-api'));
    const c = podSpecOf(api).containers[0] as Container & Record<string, unknown>;
    c.readinessprobe = c.readinessProbe;
    expect(unknownFields(Deployment, api)).toEqual(['/spec/template/spec/containers/0/readinessprobe']);
    (c.ports as { containerPort: unknown }[])[0].containerPort = '8080';
    expect(schemaProblems(api).join('\n')).toMatch(/containerPort: must be integer/);
    const so = structuredClone(find(overlay, 'ScaledObject'));
    (so.spec as Record<string, unknown>).maxReplicas = 3;
    expect(unknownFields(ScaledObject, so)).toEqual(['/spec/maxReplicas']);
    const gi = structuredClone(find(overlay, 'GafaelfawrIngress', 'zooniverse-bridge-public')) as K8sObject & { config: Record<string, unknown> };
    gi.config.loginRedirect = true;
    expect(gafaelfawrIngressSchema.safeParse(gi).success).toBe(false);
    gi.config = { ...gi.config, loginRedirect: undefined, scopes: { all: ['read:image'], anonymous: true } };
    expect(gafaelfawrIngressSchema.safeParse(gi).success).toBe(false);
  });
});

describe('what the bridge reads', () => {
  const known = new Set(Object.keys(configSchema.shape));

  for (const [name, objects] of builds) {
    it(`${name}: every ConfigMap key and env variable is one the bridge reads, and the configuration loads in production mode`, () => {
      const data = configMapData(objects);
      expect(Object.keys(data).filter((k) => !known.has(k))).toEqual([]);
      for (const c of bridgeContainers(objects)) {
        const env = envOf(c);
        // A variable the bridge does not read is allowed only as a part of another one ($(NAME) expansion).
        const helpers = env.filter((e) => !known.has(e.name)).map((e) => e.name);
        for (const h of helpers) expect(env.some((e) => e.value?.includes(`$(${h})`)), `${c.name}: ${h} is neither read by the bridge nor used in another variable`).toBe(true);
        // $(NAME) only expands names defined earlier in the list.
        env.forEach((e, i) => {
          for (const [, ref] of e.value?.matchAll(/\$\(([A-Z0-9_]+)\)/g) ?? []) expect(env.slice(0, i).map((x) => x.name), `${c.name}: ${e.name} uses $(${ref})`).toContain(ref);
        });
      }
      // What each process would see, secrets replaced by stand-ins.
      const env = processEnv(objects);
      const config = loadConfig(env);
      expect(config.BRIDGE_MODE).toBe('production');
      // On loopback the kubelet's probes and the Service would reach nothing.
      expect(isLoopback(config.HOST)).toBe(false);
    });

    it(`${name}: secrets come only from Kubernetes Secrets, and no credential is written in the manifests`, () => {
      expect(findAll(objects, 'Secret')).toEqual([]);
      const data = configMapData(objects);
      const credentials = [...SECRET_KEYS, 'S3_ACCESS_KEY_ID', 'ZOONIVERSE_CLIENT_ID'];
      expect(Object.keys(data).filter((k) => credentials.includes(k))).toEqual([]);
      for (const c of bridgeContainers(objects)) {
        const env = envOf(c);
        const fromSecrets = secretSourcedNames(env);
        for (const key of SECRET_KEYS) {
          const e = env.find((x) => x.name === key);
          if (!e || fromSecrets.has(key)) continue;
          // Built from secret parts only: what remains after removing them holds no password.
          const rest = (e.value ?? '').replace(/\$\(([A-Z0-9_]+)\)/g, (m, n: string) => (fromSecrets.has(n) ? '' : m));
          expect(rest, `${c.name}: ${key}`).toMatch(/^[a-z]+:\/\/:?@/);
          expect(e.value, `${c.name}: ${key} must take its credential from a Secret`).toMatch(/\$\([A-Z0-9_]+\)/);
        }
        expect(c.envFrom, `${c.name}: envFrom only from the ConfigMap`).toEqual([{ configMapRef: { name: find(objects, 'ConfigMap').metadata.name } }]);
      }
      // Anything that looks like a credential, anywhere in any object.
      const strings = (v: unknown): string[] => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : []);
      for (const o of objects) {
        for (const s of strings(o)) {
          expect(s, `${o.kind}/${o.metadata.name}`).not.toMatch(/:\/\/[^/\s:@]+:(?!\$\()[^@\s/]+@/);
          expect(s, `${o.kind}/${o.metadata.name}`).not.toMatch(/-----BEGIN|AKIA[0-9A-Z]{16}/);
        }
      }
    });
  }
});

describe('the processes', () => {
  const stubCtx = {} as CliContext;

  it('API, workers and the migration run the same image, the same configuration and the right commands', () => {
    const api = find(overlay, 'Deployment', 'zooniverse-bridge-api');
    const worker = find(overlay, 'Deployment', 'zooniverse-bridge-worker');
    const migrate = find(overlay, 'Job', 'zooniverse-bridge-migrate');
    const [a, w, m] = [api, worker, migrate].map((o) => containersOf(o)[0]);
    expect(splitImage(a.image)).toEqual(['ghcr.io/example/rsp-zooniverse-bridge', '0.1.0']);
    expect(w.image).toBe(a.image);
    expect(m.image).toBe(a.image);
    expect(w.env).toEqual(a.env);
    expect(m.env).toEqual(a.env);
    expect(w.envFrom).toEqual(a.envFrom);
    expect(m.envFrom).toEqual(a.envFrom);
    const launcher = ['node', '/app/bin/bridge.js'];
    expect(a.command).toEqual([...launcher, 'serve', '--role', 'api']);
    expect(w.command).toEqual([...launcher, 'serve', '--role', 'worker']);
    expect(m.command).toEqual([...launcher, 'migrate']);
    // The CLI has these commands and roles (src/cli).
    const role = serveCommand(stubCtx).options.find((o) => o.long === '--role');
    expect(role?.argChoices).toEqual(expect.arrayContaining(['api', 'worker']));
    expect(migrateCommand(stubCtx).name()).toBe('migrate');
    // The image puts the launcher there and runs as the user the pods name.
    const dockerfile = readFileSync(join(KUSTOMIZE_ROOT, '..', 'container', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/bin \.\/bin$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(podSpecOf(api).securityContext?.runAsUser).toBe(1000);
  });

  it('the API is probed on the paths and port it serves; the worker, which opens no port, is not probed over the network', () => {
    const api = find(overlay, 'Deployment', 'zooniverse-bridge-api');
    const a = containersOf(api)[0];
    const port = a.ports?.find((p) => p.name === a.readinessProbe?.httpGet?.port);
    expect(port?.containerPort).toBe(Number(configMapData(overlay).PORT));
    expect(a.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(a.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(a.livenessProbe?.httpGet?.port).toBe(port?.name);
    const w = containersOf(find(overlay, 'Deployment', 'zooniverse-bridge-worker'))[0];
    expect(w.ports).toBeUndefined();
    for (const p of [w.readinessProbe, w.livenessProbe, w.startupProbe]) expect(p?.httpGet ?? p?.tcpSocket).toBeUndefined();
  });

  it('a stopping worker gets longer than SHUTDOWN_TIMEOUT_SECONDS to finish its jobs', () => {
    const fallback = configSchema.shape.SHUTDOWN_TIMEOUT_SECONDS.parse(undefined);
    const configured = Number(configMapData(overlay).SHUTDOWN_TIMEOUT_SECONDS ?? fallback);
    const grace = podSpecOf(find(overlay, 'Deployment', 'zooniverse-bridge-worker')).terminationGracePeriodSeconds!;
    expect(grace).toBeGreaterThan(configured);
    expect(grace).toBeGreaterThan(fallback);
    // The API's preStop wait fits in its grace period with time left to close.
    const api = find(overlay, 'Deployment', 'zooniverse-bridge-api');
    const wait = Number(/setTimeout\(\(\) => \{\}, (\d+)\)/.exec(containersOf(api)[0].lifecycle!.preStop!.exec!.command!.join(' '))![1]) / 1000;
    expect(podSpecOf(api).terminationGracePeriodSeconds!).toBeGreaterThan(wait + 10);
  });

  for (const [name, objects] of builds) {
    it(`${name}: every container runs as non-root, read-only, without capabilities, with requests and limits`, () => {
      for (const o of objects.filter((x) => podSpecOf(x))) {
        const spec = podSpecOf(o);
        expect(spec.automountServiceAccountToken, o.metadata.name).toBe(false);
        for (const c of spec.containers) {
          const where = `${o.metadata.name}/${c.name}`;
          expect(c.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot, where).toBe(true);
          expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
          expect(c.securityContext?.readOnlyRootFilesystem, where).toBe(true);
          expect(c.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
          for (const kind of ['requests', 'limits'] as const) for (const r of ['cpu', 'memory']) expect(c.resources?.[kind]?.[r], `${where} ${kind}.${r}`).toBeDefined();
        }
      }
    });
  }

  it('the API Service and every ingress backend reach a container port that exists', () => {
    const services = findAll(overlay, 'Service');
    const api = find(overlay, 'Deployment', 'zooniverse-bridge-api');
    const svc = find(overlay, 'Service', 'zooniverse-bridge-api');
    const selector = (svc.spec as { selector: Record<string, string> }).selector;
    expect((api.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels).toMatchObject(selector);
    expect(containersOf(api)[0].ports!.map((p) => p.name)).toContain((svc.spec as { ports: { targetPort: string }[] }).ports[0].targetPort);
    const ingresses = findAll(overlay, 'GafaelfawrIngress') as (K8sObject & { template: { spec: { rules: { http: { paths: { backend: { service: { name: string; port: { name?: string; number?: number } } } }[] } }[] } } })[];
    for (const gi of ingresses) {
      for (const p of gi.template.spec.rules.flatMap((r) => r.http.paths)) {
        const target = services.find((s) => s.metadata.name === p.backend.service.name);
        expect(target, `${gi.metadata.name} -> ${p.backend.service.name}`).toBeDefined();
        const ports = (target!.spec as { ports: { name: string; port: number }[] }).ports;
        expect(ports.some((x) => x.name === p.backend.service.port.name || x.port === p.backend.service.port.number), `${gi.metadata.name} -> port`).toBe(true);
      }
    }
  });

  it('the anonymous paths are the ones whose callers prove themselves without a token', () => {
    const paths = (find(overlay, 'GafaelfawrIngress', 'zooniverse-bridge-anonymous') as K8sObject & { template: { spec: { rules: { http: { paths: { path: string }[] } }[] } } }).template.spec.rules.flatMap((r) => r.http.paths.map((p) => p.path));
    const media = mediaSigner(Buffer.alloc(32), 600).sign(`images/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}/${'a'.repeat(64)}.png`);
    const caesar = CAESAR_INTAKE_PATH.replace(':id', 'c1');
    for (const url of [media, caesar]) expect(paths.some((p) => url.startsWith(p)), url).toBe(true);
    expect(paths).toHaveLength(2);
  });
});

