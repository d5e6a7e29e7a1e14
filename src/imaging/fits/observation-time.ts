import { open } from 'node:fs/promises';
import { BLOCK, parseHeader, type Header } from './header.js';

/** Primary headers of cutout files are a few blocks; past this it is not a header we want. */
export const MAX_PRIMARY_HEADER_BYTES = 2880 * 200;

/** The primary header of a FITS file, reading no more than the header itself; null when none ends in time. */
export async function readPrimaryHeader(path: string, maxBytes = MAX_PRIMARY_HEADER_BYTES): Promise<Header | null> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(maxBytes);
    let have = 0;
    while (have < buf.length) {
      const { bytesRead } = await fh.read(buf, have, BLOCK, have);
      if (bytesRead === 0) return null;
      have += bytesRead;
      if (have % BLOCK === 0) {
        const parsed = parseHeader(buf.subarray(0, have));
        if (parsed) return parsed.header;
      }
    }
    return null;
  } finally {
    await fh.close();
  }
}

/** The primary header of a FITS file held in memory; null when none ends within maxBytes. */
export function primaryHeaderOf(bytes: Uint8Array, maxBytes = MAX_PRIMARY_HEADER_BYTES): Header | null {
  const end = Math.min(bytes.length - (bytes.length % BLOCK), maxBytes);
  for (let have = BLOCK; have <= end; have += BLOCK) {
    const parsed = parseHeader(bytes.subarray(0, have));
    if (parsed) return parsed.header;
  }
  return null;
}

const MJD_UNIX_EPOCH = 40587;

/**
 * When the pixels were observed, as ISO 8601 UTC, from DATE-OBS or MJD-OBS
 * (the FITS standard's keywords; Rubin writes both on exposures). The policy
 * uses it for the prompt-data embargo, so an unparsable value counts as
 * unknown (null), never as a guess. TAI vs UTC (37 s) is below what an
 * 80-hour embargo can notice.
 */
export function observationTime(h: Header): string | null {
  const date = h.string('DATE-OBS')?.trim();
  if (date && /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?Z?$/.test(date)) {
    const t = Date.parse(date.length === 10 ? `${date}T00:00:00Z` : date.endsWith('Z') ? date : `${date}Z`);
    if (Number.isFinite(t)) return new Date(t).toISOString();
  }
  for (const key of ['MJD-OBS', 'MJD']) {
    const mjd = h.number(key);
    // Plausible MJDs: 1950 to 2100; anything else is a different quantity.
    if (mjd !== undefined && mjd > 33282 && mjd < 88069) return new Date(Math.round((mjd - MJD_UNIX_EPOCH) * 86_400_000)).toISOString();
  }
  return null;
}
