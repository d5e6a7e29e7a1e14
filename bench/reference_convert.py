#!/usr/bin/env python3
"""Reference for `npm run bench:convert`: the same stamps through astropy,
Pillow and pyavm, the tools an astronomer would script this with.

Input: DIR/r.f32, g.f32, b.f32, each COUNT x SIZE x SIZE little-endian
float32 (stamp after stamp, row-major, FITS row order). Per stamp:
make_lupton_rgb, flip rows (FITS row 0 at the bottom), PNG at the given zlib
level with Pillow, AVM (a TAN WCS at 0.2"/px) embedded with pyavm. Only the
per-stamp work is timed. Prints one JSON line.
"""
import argparse
import io
import json
import os
import tempfile
import time
import warnings

import numpy as np
from astropy.visualization import make_lupton_rgb
from astropy.wcs import WCS
from PIL import Image
from pyavm import AVM

warnings.simplefilter('ignore')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--input', required=True)
    ap.add_argument('--size', type=int, required=True)
    ap.add_argument('--count', type=int, required=True)
    ap.add_argument('--level', type=int, default=6)
    ap.add_argument('--stretch', type=float, default=5.0)
    ap.add_argument('--Q', type=float, default=8.0)
    a = ap.parse_args()
    n = a.size
    bands = [np.fromfile(os.path.join(a.input, f'{c}.f32'), dtype='<f4').reshape(a.count, n, n) for c in 'rgb']

    w = WCS(naxis=2)
    w.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    w.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    w.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    avm_template = AVM.from_wcs(w, shape=(n, n))

    total_bytes = 0
    tmp = tempfile.mkdtemp()
    src = os.path.join(tmp, 'in.png')
    dst = os.path.join(tmp, 'out.png')
    t0 = time.perf_counter()
    for k in range(a.count):
        rgb = make_lupton_rgb(bands[0][k], bands[1][k], bands[2][k], minimum=0, stretch=a.stretch, Q=a.Q)
        buf = io.BytesIO()
        Image.fromarray(np.flipud(rgb)).save(buf, format='PNG', compress_level=a.level)
        # pyavm embeds file to file; a temp file is its only interface.
        with open(src, 'wb') as fh:
            fh.write(buf.getvalue())
        avm_template.Spatial.ReferenceValue = [150.0 + k * 1e-3, 2.2]
        avm_template.embed(src, dst)
        total_bytes += os.path.getsize(dst)
    seconds = time.perf_counter() - t0
    print(json.dumps({'stamps': a.count, 'seconds': seconds, 'stamps_per_s': a.count / seconds, 'mean_png_bytes': total_bytes / a.count}))


if __name__ == '__main__':
    main()
