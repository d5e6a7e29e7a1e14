import { escapeHtml } from './html.js';

/**
 * GET /api/v1/docs: the OpenAPI document as a page a person can read,
 * rendered on the server from the same document /api/v1/openapi.json
 * serves, so the two never disagree. No script and no external request:
 * it runs under the page's strict CSP and offline.
 */
type Json = Record<string, any>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export function apiDocsPage(doc: Json): string {
  const e = escapeHtml;
  const paths = Object.entries((doc.paths ?? {}) as Record<string, Json>);
  const anchor = (method: string, path: string) => `${method}-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
  const toc = paths.flatMap(([path, ops]) => METHODS.filter((m) => ops[m]).map((m) => `<li><a href="#${anchor(m, path)}"><code>${m.toUpperCase()} ${e(path)}</code></a> ${e(ops[m].summary ?? '')}</li>`));
  const sections = paths.flatMap(([path, ops]) =>
    METHODS.filter((m) => ops[m]).map((m) => {
      const op = ops[m] as Json;
      const params = (op.parameters ?? []) as Json[];
      const body = op.requestBody?.content?.['application/json']?.schema as Json | undefined;
      const responses = Object.entries((op.responses ?? {}) as Record<string, Json>);
      return `<section id="${anchor(m, path)}">
<h3><code>${m.toUpperCase()} ${e(path)}</code></h3>
<p>${e(op.summary ?? '')}</p>
${params.length ? `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr></thead><tbody>${params.map((p) => `<tr><td><code>${e(p.name)}</code></td><td>${e(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${e(schemaText(p.schema ?? {}))}</td></tr>`).join('')}</tbody></table>` : ''}
${body ? `<h4>Request body (JSON)</h4>${schemaTable(resolve(doc, body))}` : ''}
<h4>Responses</h4><ul>${responses.map(([code, r]) => `<li><code>${e(code)}</code> ${e(r.description ?? '')}</li>`).join('')}</ul>
</section>`;
    }),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(doc.info?.title ?? 'API')}: API reference</title>
<link rel="stylesheet" href="/ui/api-docs.css">
</head>
<body>
<main>
<h1>${e(doc.info?.title ?? 'API')}: API reference (v${e(String(doc.info?.version ?? ''))})</h1>
<p>Every path is below <code>/api/v1</code>. Authenticate with a bearer token from the RSP (<code>Authorization: Bearer …</code>), or with a browser session (writes then need the <code>X-CSRF-Token</code> header). Errors are <code>application/problem+json</code> with <code>title</code>, <code>detail</code> and, for invalid input, the <code>field</code>. The machine-readable document is <a href="/api/v1/openapi.json"><code>/api/v1/openapi.json</code></a>; the review page is <a href="/review">/review</a>.</p>
<h2>Operations</h2>
<ul class="toc">${toc.join('\n')}</ul>
<h2>Reference</h2>
${sections.join('\n')}
</main>
</body>
</html>
`;
}

function resolve(doc: Json, schema: Json): Json {
  const ref = schema.$ref as string | undefined;
  if (!ref?.startsWith('#/')) return schema;
  return ref
    .slice(2)
    .split('/')
    .reduce<Json>((at, k) => (at?.[k] ?? {}) as Json, doc);
}

function schemaText(s: Json): string {
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v: unknown) => JSON.stringify(v)).join(', ')}`;
  const type = Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? (s.anyOf ? 'one of several shapes' : 'any'));
  const extra = [s.format, s.minimum !== undefined ? `min ${s.minimum}` : '', s.maximum !== undefined ? `max ${s.maximum}` : '', s.default !== undefined ? `default ${JSON.stringify(s.default)}` : ''].filter(Boolean);
  return extra.length ? `${type} (${extra.join(', ')})` : String(type);
}

function schemaTable(s: Json): string {
  const props = Object.entries((s.properties ?? {}) as Record<string, Json>);
  if (!props.length) return `<p>${escapeHtml(schemaText(s))}</p>`;
  const required = new Set((s.required ?? []) as string[]);
  return `<table><thead><tr><th>field</th><th>required</th><th>schema</th><th>description</th></tr></thead><tbody>${props
    .map(([name, p]) => `<tr><td><code>${escapeHtml(name)}</code></td><td>${required.has(name) ? 'yes' : 'no'}</td><td>${escapeHtml(schemaText(p))}</td><td>${escapeHtml(String(p.description ?? ''))}</td></tr>`)
    .join('')}</tbody></table>`;
}
