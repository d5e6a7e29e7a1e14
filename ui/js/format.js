// @ts-check
// Values as the reviewer reads them: dates, sky positions, counts, errors.

import { h } from './dom.js';

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/**
 * @param {string} iso
 * @param {Intl.DateTimeFormat} [fmt]
 */
export function fmtDate(iso, fmt = dateFmt) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso ?? '') : fmt.format(d);
}

/** @param {string} iso */
export function timeEl(iso) {
  return h('time', { datetime: iso, title: iso, text: fmtDate(iso) });
}

/** @param {number} n */
const pad2 = (n) => String(n).padStart(2, '0');

/**
 * "10h00m28.60s +02°12′21.0″" with carries handled by rounding whole units first.
 * @param {number} ra degrees
 * @param {number} dec degrees
 */
export function sexagesimal(ra, dec) {
  const raDeg = ((ra % 360) + 360) % 360;
  const cs = Math.round((raDeg / 15) * 360000) % (24 * 360000); // hundredths of a second of time
  const rh = Math.floor(cs / 360000);
  const rm = Math.floor(cs / 6000) % 60;
  const rs = (cs % 6000) / 100;
  const ds = Math.round(Math.abs(dec) * 36000); // tenths of an arcsecond
  const dd = Math.floor(ds / 36000);
  const dm = Math.floor(ds / 600) % 60;
  const dsec = (ds % 600) / 10;
  const sign = dec < 0 ? '-' : '+';
  return `${pad2(rh)}h${pad2(rm)}m${rs.toFixed(2).padStart(5, '0')}s ${sign}${pad2(dd)}°${pad2(dm)}′${dsec.toFixed(1).padStart(4, '0')}″`;
}

/**
 * @param {number} ra degrees
 * @param {number} dec degrees
 */
export function decimalPos(ra, dec) {
  return `RA ${ra.toFixed(5)}°, Dec ${dec < 0 ? '' : '+'}${dec.toFixed(5)}°`;
}

/**
 * @param {number} n
 * @param {string} one
 * @param {string} [many]
 */
export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/**
 * A per-image error from the server: a plain message, or a problem-like object.
 * @param {unknown} err
 */
export function errorText(err) {
  if (!err) return 'failed';
  if (typeof err === 'string') return err;
  if (typeof err === 'object') {
    const e = /** @type {{ title?: unknown, detail?: unknown, message?: unknown, code?: unknown }} */ (err);
    const parts = [e.title, e.detail, e.message].filter((p) => typeof p === 'string' && p);
    if (parts.length) return [...new Set(parts)].join(': ');
    if (typeof e.code === 'string') return e.code.replace(/_/g, ' ');
  }
  return String(err);
}
