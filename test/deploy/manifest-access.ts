import type { K8sObject } from './kustomize.js';

/** Typed reads of the built manifests for the deploy tests: only the fields they look at. */

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}

interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
  exec?: { command?: string[] };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: unknown[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: Probe };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
}

export interface PodSpec {
  containers: Container[];
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}

export function findAll(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The one object of `kind` (named `name` when given); throws naming what is missing. */
export function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hits.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${hits.length}`);
  return hits[0];
}

/** The pod template's spec of a Deployment, StatefulSet or Job; undefined for other kinds. */
export function podSpecOf(o: K8sObject): PodSpec {
  return (o.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec as PodSpec;
}

export function containersOf(o: K8sObject): Container[] {
  return podSpecOf(o)?.containers ?? [];
}

export function envOf(c: Container): EnvVar[] {
  return c.env ?? [];
}

/** The containers that run the bridge (its launcher), not Redis. */
export function bridgeContainers(objects: K8sObject[]): Container[] {
  const out = objects.flatMap((o) => containersOf(o)).filter((c) => c.command?.includes('/app/bin/bridge.js'));
  if (out.length === 0) throw new Error('no bridge container found');
  return out;
}

export function configMapData(objects: K8sObject[]): Record<string, string> {
  return (find(objects, 'ConfigMap').data as Record<string, string>) ?? {};
}

/** Env variables whose value comes from a Secret. */
export function secretSourcedNames(env: EnvVar[]): Set<string> {
  return new Set(env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name));
}

/**
 * The environment a bridge container would see: the ConfigMap, then its env
 * in order ($(NAME) expanded), with each required secret replaced by a
 * well-formed stand-in (the manifests hold no secret values to use).
 */
export function processEnv(objects: K8sObject[]): Record<string, string> {
  const standIn: Record<string, string> = { DATABASE_URL: 'postgres://bridge:pw@postgres:5432/bridge', SESSION_SECRET: 'x'.repeat(32), REDIS_PASSWORD: 'a1b2c3' };
  const env: Record<string, string> = { ...configMapData(objects) };
  for (const e of envOf(bridgeContainers(objects)[0])) {
    if (e.valueFrom?.secretKeyRef) {
      if (!e.valueFrom.secretKeyRef.optional) env[e.name] = standIn[e.name] ?? 'stand-in';
    } else if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Z0-9_]+)\)/g, (_, n: string) => env[n]);
  }
  return env;
}
