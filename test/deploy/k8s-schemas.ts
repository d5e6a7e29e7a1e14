import { z } from 'zod';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import type { K8sObject } from './kustomize.js';

/**
 * Validation of every object the manifests create against its schema: the
 * Kubernetes OpenAPI schemas as the kubernetes-models packages compile them
 * (KEDA's CRDs from @kubernetes-models/keda), and GafaelfawrIngress against a
 * zod schema written from Gafaelfawr's CRD (crds/ingress.yaml) and its
 * pydantic model, since no package has it.
 *
 * Kubernetes' schemas do not forbid unknown fields, so a misspelt field
 * (`readinessprobe`) would pass them, while the API server refuses it
 * (strict field validation, kubectl's default) or drops it. unknownFields()
 * finds such fields by asking the schema itself: a known field gives a type
 * error when its value is replaced by one of the wrong type; an unknown one
 * gives none.
 */

interface Model {
  validate(): void;
}
type ModelClass = new (data: never) => Model;

const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/Ingress': Ingress,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

interface SchemaError {
  instancePath: string;
  message?: string;
}

function modelErrors(cls: ModelClass, data: unknown): SchemaError[] {
  try {
    new cls(structuredClone(data) as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: SchemaError[] }).errors;
    if (!errors) throw e;
    return errors;
  }
}

const pointer = (path: (string | number)[]) => path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, unknown>;
  node[path[path.length - 1]] = value;
  return copy;
}

/** Paths of every property of every object in `v` (array elements are walked into, not probed). */
function propertyPaths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => propertyPaths(x, [...at, i]));
  if (!v || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => [[...at, k], ...propertyPaths(x, [...at, k])]);
}

/** Fields the schema does not know (see the file comment); apiVersion and kind are fixed by the model class. */
export function unknownFields(cls: ModelClass, data: unknown): string[] {
  const out: string[] = [];
  for (const path of propertyPaths(data)) {
    if (path.length === 1 && (path[0] === 'apiVersion' || path[0] === 'kind')) continue;
    const at = pointer(path);
    // Below an unknown field everything is unknown: report the field once.
    if (out.some((u) => at.startsWith(u + '/'))) continue;
    const complains = (wrong: unknown) => modelErrors(cls, setAt(data, path, wrong)).some((e) => e.instancePath === at || e.instancePath.startsWith(at + '/'));
    // A boolean is wrong for strings, numbers, objects and lists; a string is wrong for booleans.
    if (!complains(true) && !complains('not-a-valid-value-of-any-type')) out.push(at);
  }
  return out;
}

const stringMap = z.record(z.string(), z.string());
const backend = z.strictObject({
  service: z.strictObject({ name: z.string().min(1), port: z.union([z.strictObject({ number: z.number().int().min(1).max(65535) }), z.strictObject({ name: z.string().min(1) })]) }),
});
const scopes = z.union([
  z.strictObject({ all: z.array(z.string().min(1)).min(1) }),
  z.strictObject({ any: z.array(z.string().min(1)).min(1) }),
  z.strictObject({ anonymous: z.literal(true) }),
]);
const delegate = z
  .strictObject({
    internal: z.strictObject({ service: z.string().min(1), scopes: z.array(z.string().min(1)) }).optional(),
    notebook: z.strictObject({}).optional(),
    minimumLifetime: z.number().int().positive().optional(),
    useAuthorization: z.boolean().optional(),
  })
  .refine((d) => (d.internal === undefined) !== (d.notebook === undefined), 'delegate: exactly one of internal and notebook');

/** GafaelfawrIngress (gafaelfawr.lsst.io/v1alpha1) as Gafaelfawr's CRD and its operator's model accept it. */
export const gafaelfawrIngressSchema = z
  .strictObject({
    apiVersion: z.literal('gafaelfawr.lsst.io/v1alpha1'),
    kind: z.literal('GafaelfawrIngress'),
    metadata: z.object({ name: z.string().min(1), namespace: z.string().optional(), labels: stringMap.optional(), annotations: stringMap.optional() }),
    config: z.strictObject({
      allowCookies: z.boolean().optional(),
      allowOptions: z.boolean().optional(),
      authCacheDuration: z.string().optional(),
      authType: z.enum(['basic', 'bearer']).optional(),
      baseUrl: z.string().regex(/^https:\/\/[a-z.-]+/).optional(),
      delegate: delegate.optional(),
      loginRedirect: z.boolean().optional(),
      onlyServices: z.array(z.string()).optional(),
      replace403: z.boolean().optional(),
      scopes,
      service: z.string().optional(),
      userDomain: z.boolean().optional(),
      username: z.string().optional(),
    }),
    template: z.strictObject({
      metadata: z.strictObject({ name: z.string().min(1), labels: stringMap.optional(), annotations: stringMap.optional() }),
      spec: z.strictObject({
        rules: z.array(
          z.strictObject({
            host: z.string().optional(),
            http: z.strictObject({ paths: z.array(z.strictObject({ path: z.string(), pathType: z.enum(['Exact', 'ImplementationSpecific', 'Prefix']), backend })) }),
          }),
        ),
        tls: z.array(z.strictObject({ hosts: z.array(z.string()).optional(), secretName: z.string().optional() })).optional(),
      }),
    }),
  })
  .superRefine((g, ctx) => {
    const c = g.config;
    const anonymous = 'anonymous' in c.scopes;
    // "None of the other configuration options are supported in this mode."
    if (anonymous && (c.delegate || c.loginRedirect || c.authType || c.onlyServices || c.username)) ctx.addIssue({ code: 'custom', message: 'an anonymous ingress takes no delegate, loginRedirect, authType, onlyServices or username' });
    if (c.delegate?.internal && c.service && c.delegate.internal.service !== c.service) ctx.addIssue({ code: 'custom', message: 'config.service must match config.delegate.internal.service' });
    if (c.loginRedirect && c.allowCookies === false) ctx.addIssue({ code: 'custom', message: 'loginRedirect is incompatible with allowCookies: false' });
    if (c.loginRedirect && c.authType === 'basic') ctx.addIssue({ code: 'custom', message: 'authType: basic has no effect with loginRedirect' });
  });

/** Problems with one object: schema errors and unknown fields; empty when it is valid. */
export function schemaProblems(o: K8sObject): string[] {
  if (o.apiVersion === 'gafaelfawr.lsst.io/v1alpha1' && o.kind === 'GafaelfawrIngress') {
    const r = gafaelfawrIngressSchema.safeParse(o);
    return r.success ? [] : r.error.issues.map((i) => `/${i.path.join('/')}: ${i.message}`);
  }
  const cls = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!cls) return [`${o.apiVersion} ${o.kind}: no schema known to this test (add its model)`];
  return [...modelErrors(cls, o).map((e) => `${e.instancePath || '/'}: ${e.message}`), ...unknownFields(cls, o).map((p) => `${p}: unknown field`)];
}
