/**
 * CSV as RFC 4180 has it (quoted where needed, quotes doubled), with \n line
 * ends as Panoptes and the Project Builder read them. Edge spaces are quoted
 * too, since some readers trim unquoted fields.
 */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) || /^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function toCsv(header: string[], rows: (string | undefined)[][]): string {
  return [header, ...rows].map((r) => r.map((v) => csvField(v ?? '')).join(',')).join('\n') + '\n';
}
