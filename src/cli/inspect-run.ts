import { FitsFile } from '../imaging/fits/fits-file.js';
import { FitsCutouts } from '../imaging/cutouts/fits-cutouts.js';
import { readWcs, scaleRotation } from '../imaging/wcs.js';

/** What `bridge inspect` reports about a FITS file; also printed as JSON with --json. */
export async function inspectFits(path: string) {
  const file = await FitsFile.openPath(path);
  try {
    const hdus = file.hdus.map((h) => {
      const z = h.compressed ? 'Z' : '';
      const naxis = h.header.number(`${z}NAXIS`) ?? 0;
      const dims = Array.from({ length: naxis }, (_, i) => h.header.number(`${z}NAXIS${i + 1}`) ?? 0);
      const wcs = readWcs(h.header);
      const sr = wcs ? scaleRotation(wcs.cd) : undefined;
      return {
        index: h.index,
        kind: h.compressed ? 'COMPRESSED_IMAGE' : h.kind,
        extname: h.extname ?? null,
        extver: h.extver,
        bitpix: h.header.number(`${z}BITPIX`) ?? null,
        dims,
        compression: h.compressed ? { type: h.header.string('ZCMPTYPE') ?? null, quantize: h.header.string('ZQUANTIZ') ?? null, tile: [h.header.number('ZTILE1'), h.header.number('ZTILE2')] } : null,
        wcs: wcs
          ? {
              ctype: [`${wcs.lonType}-${wcs.projection}`, `${wcs.latType}-${wcs.projection}`],
              crval: wcs.crval,
              crpix: wcs.crpix,
              scaleArcsec: sr!.scale.map((s) => s * 3600),
              rotationDeg: sr!.rotation,
              sip: !!wcs.sip,
            }
          : null,
      };
    });
    const cutouts = FitsCutouts.fromFile(file);
    return {
      file: path,
      bytes: file.source.size,
      hdus,
      cutouts: { kind: cutouts.kind, count: cutouts.count, stamps: cutouts.summary(), warnings: cutouts.warnings },
    };
  } finally {
    await file.close();
  }
}

/** `bridge inspect`'s work, loaded only when the command runs (inspect-command.ts is its definition). */
export async function runInspect(path: string, o: { json?: boolean }): Promise<void> {
  const r = await inspectFits(path);
  if (o.json || !process.stdout.isTTY) {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return;
  }
  const lines = [`${r.file}: ${r.bytes} bytes, ${r.hdus.length} HDUs, ${r.cutouts.kind} with ${r.cutouts.count} stamp(s)`];
  for (const h of r.hdus) {
    const name = h.extname ? ` ${h.extname}${h.extver !== 1 ? `[${h.extver}]` : ''}` : '';
    const comp = h.compression ? ` ${h.compression.type}${h.compression.quantize ? '+' + h.compression.quantize : ''}` : '';
    const wcs = h.wcs
      ? ` WCS ${h.wcs.ctype[0]} (${h.wcs.crval.map((v) => v.toFixed(6)).join(', ')}) ${Math.abs(h.wcs.scaleArcsec[0]).toFixed(3)}"/px rot ${h.wcs.rotationDeg.toFixed(2)}°${h.wcs.sip ? ' SIP' : ''}`
      : '';
    lines.push(`  [${h.index}] ${h.kind}${name} ${h.dims.join('x') || '-'} BITPIX ${h.bitpix}${comp}${wcs}`);
  }
  for (const s of r.cutouts.stamps) {
    if (s.position) lines.push(`  stamp ${s.index}: RA ${s.position.ra.toFixed(6)} Dec ${s.position.dec.toFixed(6)}`);
  }
  for (const w of r.cutouts.warnings) lines.push(`  warning: ${w}`);
  process.stdout.write(lines.join('\n') + '\n');
}
