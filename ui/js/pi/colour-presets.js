// @ts-check
// The colour presets as the bridge knows them (src/imaging/colour/presets.ts:
// COLOUR_PRESETS, DEFAULT_COLOUR_PRESET). The PI page reads the list and the
// default from the API's schema; these are only what it falls back on when
// that cannot be read, and for a collection stored without a preset (the
// converter then uses the default). test/service/colour-default.test.ts
// checks they agree with the server's.

/** Every preset, the default first. */
export const FALLBACK_PRESETS = Object.freeze(['sky-asinh', 'auto', 'lupton', 'legacy-survey', 'linear']);

/** What the converter uses when a collection names no preset. */
export const DEFAULT_PRESET = 'sky-asinh';
