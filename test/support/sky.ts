/** Angular separation in arcsec (haversine), independent of the code under test. */
export function sepArcsec(a: readonly number[], b: readonly number[]): number {
  const d = Math.PI / 180;
  const s = Math.sin(((b[1] - a[1]) * d) / 2) ** 2 + Math.cos(a[1] * d) * Math.cos(b[1] * d) * Math.sin(((b[0] - a[0]) * d) / 2) ** 2;
  return (2 * Math.asin(Math.sqrt(s)) * 180 * 3600) / Math.PI;
}
