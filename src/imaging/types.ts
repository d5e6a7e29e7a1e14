/**
 * Shared shapes of the imaging module. Pixel arrays are row-major with row 0
 * being FITS row 0 (the bottom of the picture); undefined pixels (BLANK, NaN,
 * null-sentinel tiles) are NaN. The PNG writer flips rows, nothing else does.
 */
export type PixelArray = Float32Array | Float64Array;

export interface ImagePlane {
  width: number;
  height: number;
  data: PixelArray;
}

/** 8-bit raster ready for PNG encoding; channels 1 = grey, 3 = RGB interleaved. */
export interface Raster8 {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** Error for anything wrong with an input file: names the file and where in it. */
export class ImagingError extends Error {
  constructor(
    message: string,
    readonly where: { file?: string; hdu?: number | string; stamp?: number; field?: string } = {},
  ) {
    super(formatWhere(where) + message);
    this.name = 'ImagingError';
  }
}

function formatWhere(w: ImagingError['where']): string {
  const parts: string[] = [];
  if (w.file) parts.push(w.file);
  if (w.hdu !== undefined) parts.push(`HDU ${w.hdu}`);
  if (w.stamp !== undefined) parts.push(`stamp ${w.stamp}`);
  if (w.field) parts.push(w.field);
  return parts.length ? parts.join(', ') + ': ' : '';
}
