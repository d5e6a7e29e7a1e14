import { describe, expect, it } from 'vitest';
import { luptonRgb } from '../../src/imaging/colour/lupton.js';
import { defaultChannelOrder, parseRgbMapping } from '../../src/imaging/colour/bands.js';
import { renderColour } from '../../src/imaging/colour/presets.js';

const px = (v: number) => ({ width: 1, height: 1, data: Float64Array.of(v) });

describe('Lupton asinh: contract edges (the imaging.md vectors are in colour.test.ts)', () => {
  it('undefined pixels render black, not garbage', () => {
    const out = luptonRgb(px(NaN), px(NaN), px(NaN), { minimum: [0, 0, 0], stretch: 5, Q: 8 });
    expect(Array.from(out.data)).toEqual([0, 0, 0]);
  });

  it('saturated pixels keep their colour', () => {
    const out = luptonRgb(px(1000), px(500), px(100), { minimum: [0, 0, 0], stretch: 1, Q: 8 });
    const [r, g, b] = out.data;
    expect(r).toBe(255);
    expect(g / r).toBeCloseTo(0.5, 1);
    expect(b / r).toBeCloseTo(0.1, 1);
  });

  it('refuses bad parameters naming the field', () => {
    expect(() => luptonRgb(px(1), px(1), px(1), { minimum: [0, 0, 0], stretch: 0, Q: 8 })).toThrow(/stretch must be/);
    expect(() => luptonRgb(px(1), px(1), px(1), { minimum: [0, 0, 0], stretch: 1, Q: -1 })).toThrow(/Q must be/);
  });
});

describe('channel order', () => {
  it('puts the reddest band in R', () => {
    expect(defaultChannelOrder(['g', 'r', 'i'])).toEqual(['i', 'r', 'g']);
    expect(defaultChannelOrder(['i', 'g', 'r'])).toEqual(['i', 'r', 'g']);
    expect(defaultChannelOrder(['r'])).toEqual(['r']);
    expect(defaultChannelOrder(['u', 'g', 'r', 'i', 'z', 'y'])).toEqual(['y', 'z', 'i']);
  });
  it('handles two bands and explains unknown names', () => {
    // Two bands: R = redder, B = bluer, G synthesised as their mean.
    expect(defaultChannelOrder(['g', 'r'])).toEqual(['r', 'g']);
    expect(() => defaultChannelOrder(['g', 'r', 'H'])).toThrow(/unknown band "H"/);
    expect(() => parseRgbMapping('i,r,g,u', ['g', 'r', 'i', 'u'])).toThrow(/--rgb/);
    expect(() => parseRgbMapping('z,r,g', ['g', 'r', 'i'])).toThrow(/names band "z"/);
    expect(parseRgbMapping('r,r,g', ['g', 'r'])).toEqual(['r', 'r', 'g']);
  });
});

describe('presets', () => {
  const plane = (f: (i: number) => number) => ({ width: 16, height: 16, data: Float32Array.from({ length: 256 }, (_, i) => f(i)) });
  const noise = (i: number) => Math.sin(i * 12.9898) * 10;
  const planes = [plane((i) => noise(i) + (i === 136 ? 5000 : 0)), plane((i) => noise(i + 1) + (i === 136 ? 3000 : 0)), plane((i) => noise(i + 2))];

  for (const preset of ['sky-asinh', 'auto', 'lupton', 'legacy-survey', 'linear'] as const) {
    it(`${preset}: bright source brighter than sky, grey for one band`, () => {
      const { raster, params } = renderColour(planes, { preset });
      expect(raster.channels).toBe(3);
      expect(raster.data[136 * 3]).toBeGreaterThan(raster.data[0]);
      expect(params.preset).toBe(preset);
      const grey = renderColour([planes[0]], { preset }).raster;
      expect(grey.channels).toBe(1);
      expect(grey.data.length).toBe(256);
    });
  }
});
