/** A plain text table: one header row, columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** Key/value lines, keys aligned. */
export function pairs(entries: [string, unknown][]): string {
  const w = Math.max(...entries.map(([k]) => k.length))
  return entries
    .map(([k, v]) => `${k.padEnd(w)}  ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n')
}

export function duration(sec: number): string {
  const s = Math.floor(sec)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}
