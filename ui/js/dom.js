// @ts-check
// Building and finding DOM nodes. Every node is built with textContent and
// attributes (never innerHTML with data) and nothing sets an inline style
// attribute, so the page runs under
// `default-src 'self'; script-src 'self'; style-src 'self'`.

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * `class`, `text` and `dataset` are handled specially, on<event> functions
 * become listeners; anything else is an attribute. null, undefined and false
 * leave an entry out, true makes an empty attribute.
 * @typedef {{ class?: string | null, text?: string | null, dataset?: Record<string, string>, [name: string]: unknown }} Attrs
 */

/**
 * The page's fixed elements, checked for their type once so that the rest of
 * the code can use them without null checks.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id}: expected a ${type.name}`);
  return el;
}

/**
 * Builds an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = String(v);
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** @param {string} name */
export function meta(name) {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';
}

/**
 * Single-letter shortcuts must not fire while the user types.
 * @param {EventTarget | null} t
 */
export function isTypingTarget(t) {
  return t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
}
