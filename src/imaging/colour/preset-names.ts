/**
 * The colour presets by name, apart from the code that renders them
 * (presets.ts): `bridge --help` lists them as convert's choices, and loading
 * the colour maths for that cost start-up time (issue 16).
 */
export type ColourPreset = 'sky-asinh' | 'auto' | 'lupton' | 'legacy-survey' | 'linear';
/** Every preset, the default (DEFAULT_COLOUR_PRESET) first. */
export const COLOUR_PRESETS: readonly ColourPreset[] = ['sky-asinh', 'auto', 'lupton', 'legacy-survey', 'linear'];
/**
 * What a new collection, `bridge convert` and the demo use unless told
 * otherwise: the preset that renders the sky dark and neutral and keeps the
 * central object unsaturated (see sky-asinh.ts for why `auto` is not it).
 */
export const DEFAULT_COLOUR_PRESET: ColourPreset = 'sky-asinh';
