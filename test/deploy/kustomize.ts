import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/**
 * The part of `kustomize build` that deploy/kubernetes uses, so the tests can
 * check what `kubectl apply -k` would create without kubectl: resources
 * (files and directories with a kustomization.yaml), namespace, images, and
 * patches given by path holding one strategic-merge patch whose lists are
 * left alone (maps merge, scalars replace, `$patch: delete` removes the
 * object). Anything else in a kustomization, or a list inside a patch, is an
 * error here rather than something silently built differently; the test
 * also compares the result with `kubectl kustomize` where kubectl exists.
 */

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);

/** Kinds that are not namespaced among those this builder may meet; a CRD's kind counts as namespaced, as in kustomize. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass', 'IngressClass', 'PriorityClass', 'ClusterTriggerAuthentication']);

/** Every document of a YAML file, parse errors thrown with the file named. */
export function readYamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function asObject(v: unknown, where: string): K8sObject {
  const o = v as K8sObject;
  if (!o || typeof o !== 'object' || Array.isArray(o) || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
    throw new Error(`${where}: not a Kubernetes object (apiVersion, kind and metadata.name are required)`);
  }
  return o;
}

export function objectKey(o: Pick<K8sObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  return `${o.apiVersion.split('/').length > 1 ? o.apiVersion.split('/')[0] : ''}/${o.kind}/${o.metadata.name}`;
}

interface Kustomization {
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { path: string }[];
}

function readKustomization(dir: string): Kustomization {
  const [k] = readYamlDocuments(join(dir, 'kustomization.yaml')) as Record<string, unknown>[];
  const unknown = Object.keys(k).filter((f) => !SUPPORTED_FIELDS.has(f));
  if (unknown.length) throw new Error(`${dir}/kustomization.yaml: fields this builder does not implement: ${unknown.join(', ')}`);
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') throw new Error(`${dir}/kustomization.yaml: not a kustomize.config.k8s.io/v1beta1 Kustomization`);
  for (const p of (k.patches as Record<string, unknown>[] | undefined) ?? []) {
    const extra = Object.keys(p).filter((f) => f !== 'path');
    if (extra.length) throw new Error(`${dir}/kustomization.yaml: patch fields this builder does not implement: ${extra.join(', ')}`);
  }
  for (const i of (k.images as Record<string, unknown>[] | undefined) ?? []) {
    const extra = Object.keys(i).filter((f) => !['name', 'newName', 'newTag'].includes(f));
    if (extra.length) throw new Error(`${dir}/kustomization.yaml: image fields this builder does not implement: ${extra.join(', ')}`);
  }
  return k as Kustomization;
}

/** Every YAML file a kustomization directory reads, itself included, recursively. */
export function kustomizationFiles(dir: string): string[] {
  const k = readKustomization(dir);
  const files = [join(dir, 'kustomization.yaml')];
  for (const r of k.resources ?? []) {
    const p = resolve(dir, r);
    files.push(...(statSync(p).isDirectory() ? kustomizationFiles(p) : [p]));
  }
  for (const p of k.patches ?? []) files.push(resolve(dir, p.path));
  return files;
}

export function build(dir: string): K8sObject[] {
  const k = readKustomization(dir);
  let objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const p = resolve(dir, r);
    const more = statSync(p).isDirectory() ? build(p) : readYamlDocuments(p).map((d, i) => asObject(d, `${p} document ${i + 1}`));
    for (const o of more) {
      if (objects.some((x) => objectKey(x) === objectKey(o))) throw new Error(`${p}: ${objectKey(o)} is defined twice`);
      objects.push(o);
    }
  }
  for (const p of k.patches ?? []) objects = applyPatchFile(objects, resolve(dir, p.path));
  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const img of k.images ?? []) for (const o of objects) setImages(o, img);
  return objects;
}

function applyPatchFile(objects: K8sObject[], file: string): K8sObject[] {
  const docs = readYamlDocuments(file);
  if (docs.length !== 1) throw new Error(`${file}: this builder applies one patch per file`);
  const patch = docs[0] as K8sObject & { $patch?: string };
  const target = objects.find((o) => o.kind === patch.kind && o.metadata.name === patch.metadata?.name && o.apiVersion === patch.apiVersion);
  if (!target) throw new Error(`${file}: no ${patch.apiVersion} ${patch.kind} ${patch.metadata?.name} to patch`);
  if (patch.$patch === 'delete') return objects.filter((o) => o !== target);
  if (patch.$patch !== undefined) throw new Error(`${file}: $patch: ${patch.$patch} is not implemented`);
  mergeInto(target, patch, file);
  return objects;
}

function mergeInto(target: Record<string, unknown>, patch: Record<string, unknown>, where: string): void {
  for (const [key, value] of Object.entries(patch)) {
    if (Array.isArray(value)) throw new Error(`${where}: lists in patches (${key}) are not implemented: strategic merge would merge some by key`);
    if (value === null) delete target[key];
    else if (typeof value === 'object') {
      const t = target[key];
      if (t === undefined || t === null || typeof t !== 'object' || Array.isArray(t)) target[key] = {};
      mergeInto(target[key] as Record<string, unknown>, value as Record<string, unknown>, where);
    } else target[key] = value;
  }
}

/** kustomize's images transformer on pod templates: `name[:tag]` becomes `newName:newTag`. */
function setImages(o: K8sObject, img: { name: string; newName?: string; newTag?: string }): void {
  const spec = (o.spec as { template?: { spec?: PodSpecLike } } | undefined)?.template?.spec;
  if (!spec) return;
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    const [name, tag] = splitImage(c.image);
    if (name !== img.name) continue;
    c.image = `${img.newName ?? name}${img.newTag ? `:${img.newTag}` : tag ? `:${tag}` : ''}`;
  }
}

interface PodSpecLike {
  containers?: { image: string }[];
  initContainers?: { image: string }[];
}

/** `registry:5000/repo:tag` -> [`registry:5000/repo`, `tag`]; a digest is not split off (none is used here). */
export function splitImage(image: string): [string, string | undefined] {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, undefined];
}

export const KUSTOMIZE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'kubernetes');
