#!/usr/bin/env python3
"""Per-core reference for `npm run bench:convert`: the same stamps converted
the way an astronomer would script it, with astropy, Pillow and pyavm.

    python3 bench/reference_convert.py --input DIR --size N --count K --level L [--stretch S] [--Q Q]
    python3 bench/reference_convert.py --fits R.fits,G.fits,B.fits --out DIR --level L [--stretch S] [--Q Q]

With --input, DIR holds r.f32, g.f32, b.f32 (the R, G, B channel bands): each K*N*N
little-endian float32, stamp after stamp, row-major, FITS row order (row 0
at the bottom).

Per stamp, and only this part is timed:
  1. undefined (NaN) pixels set to the minimum, so they render black, which is
     our converter's contract (astropy leaves NaN undefined);
  2. astropy make_lupton_rgb(r, g, b, minimum=0, stretch=S, Q=Q);
  3. np.flipud: FITS row 0 is the bottom, PNG row 0 is the top;
  4. Pillow PNG at zlib level L into memory (io.BytesIO);
  5. an AVM for the stamp's own TAN WCS (0.2"/px, centre reference pixel,
     RA stepping by 1e-3 deg per stamp like the benchmark's positions)
     embedded with pyavm. pyavm 0.9 embeds only file to file (it opens the
     paths itself), so the in-memory PNG goes through two temporary files in
     a private temporary directory, and the result is read back into memory.
Reading the input is not timed. Single process: this is the per-core figure.

With --fits (the whole-process comparison, timed from outside by the bench
with the interpreter's start-up and imports included), the bands are
lsst.meas.algorithms.Stamps files: each stamp's IMAGE extension is read with
astropy (fits.open, memory-mapped as astropy does by default, hdul['IMAGE',
k]), its position from the primary's repeated RA_DEG/DEC_DEG cards, and each
PNG (with AVM) is written to --out as stamp-NNNNN.png, as the converter does.

Prints one JSON line:
  {"stamps": K, "seconds": t, "stamps_per_s": K/t, "mean_png_bytes": mean size with AVM}
"""
import argparse
import io
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np

# pyavm and astropy.wcs warn about defaults (equinox, RADESYS) on every stamp.
warnings.simplefilter('ignore')


def load_bands(directory, size, count):
    bands = []
    for name in ('r', 'g', 'b'):
        path = os.path.join(directory, f'{name}.f32')
        raw = np.fromfile(path, dtype='<f4')
        if raw.size != count * size * size:
            sys.exit(f'reference_convert: {path} has {raw.size} floats, expected {count}*{size}*{size}')
        bands.append(raw.reshape(count, size, size))
    return bands


def stamp_avm(AVM, WCS, size, k):
    """The AVM a converter writes for stamp k of the synthetic set: TAN at (150 + k/1000, 2.2), 0.2"/px, north up."""
    return stamps_avm(AVM, WCS, size, 150.0 + k * 1e-3, 2.2)


def stamps_avm(AVM, WCS, size, ra, dec):
    """The position-only AVM for a Stamps stamp: TAN at its RA_DEG/DEC_DEG, 0.2"/px, north up."""
    w = WCS(naxis=2)
    w.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]
    w.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    w.wcs.radesys = 'ICRS'
    w.wcs.equinox = 2000.0
    return AVM.from_wcs(w, shape=(size, size))


def convert_fits(a, make_lupton_rgb, WCS, Image, AVM):
    from astropy.io import fits
    os.makedirs(a.out, exist_ok=True)
    t0 = time.perf_counter()
    hduls = [fits.open(path) for path in a.fits.split(',')]
    primary = hduls[0][0].header
    count = primary['N_STAMPS']
    ras = [c.value for c in primary.cards if c.keyword == 'RA_DEG']
    decs = [c.value for c in primary.cards if c.keyword == 'DEC_DEG']
    total_bytes = 0
    for k in range(count):
        r, g, b = (np.nan_to_num(h['IMAGE', k + 1].data, nan=0.0) for h in hduls)
        rgb = make_lupton_rgb(r, g, b, minimum=0, stretch=a.stretch, Q=a.Q)
        plain = os.path.join(a.out, f'plain-{k:05d}.png')
        tagged = os.path.join(a.out, f'stamp-{k:05d}.png')
        Image.fromarray(np.flipud(rgb)).save(plain, format='PNG', compress_level=a.level)
        stamps_avm(AVM, WCS, r.shape[1], ras[k], decs[k]).embed(plain, tagged)
        os.remove(plain)
        total_bytes += os.path.getsize(tagged)
    for h in hduls:
        h.close()
    seconds = time.perf_counter() - t0
    print(json.dumps({'stamps': count, 'seconds': seconds, 'stamps_per_s': count / seconds,
                      'mean_png_bytes': total_bytes / count}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--input')
    ap.add_argument('--fits', help='R,G,B Stamps files (whole-process mode)')
    ap.add_argument('--out', help='output directory for --fits')
    ap.add_argument('--size', type=int)
    ap.add_argument('--count', type=int)
    ap.add_argument('--level', type=int, default=6, choices=range(0, 10))
    ap.add_argument('--stretch', type=float, default=5.0)
    ap.add_argument('--Q', type=float, default=8.0)
    a = ap.parse_args()

    # Imported here so a missing package gives one clear line (bench:convert
    # then reports the reference as skipped).
    try:
        from astropy.visualization import make_lupton_rgb
        from astropy.wcs import WCS
        from PIL import Image
        from pyavm import AVM
    except ImportError as e:
        sys.exit(f'reference_convert: needs python3-astropy, python3-pil and python3-pyavm ({e})')

    if a.fits:
        if not a.out:
            sys.exit('reference_convert: --fits needs --out')
        convert_fits(a, make_lupton_rgb, WCS, Image, AVM)
        return
    if not (a.input and a.size and a.count):
        sys.exit('reference_convert: give --input, --size and --count (or --fits and --out)')
    bands = load_bands(a.input, a.size, a.count)
    total_bytes = 0
    with tempfile.TemporaryDirectory(prefix='reference-convert-') as tmp:
        plain, tagged = os.path.join(tmp, 'plain.png'), os.path.join(tmp, 'avm.png')
        t0 = time.perf_counter()
        for k in range(a.count):
            r, g, b = (np.nan_to_num(band[k], nan=0.0) for band in bands)
            rgb = make_lupton_rgb(r, g, b, minimum=0, stretch=a.stretch, Q=a.Q)
            buf = io.BytesIO()
            Image.fromarray(np.flipud(rgb)).save(buf, format='PNG', compress_level=a.level)
            with open(plain, 'wb') as fh:
                fh.write(buf.getbuffer())
            stamp_avm(AVM, WCS, a.size, k).embed(plain, tagged)
            with open(tagged, 'rb') as fh:
                png = fh.read()
            total_bytes += len(png)
        seconds = time.perf_counter() - t0
    print(json.dumps({'stamps': a.count, 'seconds': seconds, 'stamps_per_s': a.count / seconds,
                      'mean_png_bytes': total_bytes / a.count}))


if __name__ == '__main__':
    main()
