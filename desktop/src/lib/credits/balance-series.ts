import type { CreditHistoryEntry } from './types.ts'

export interface BalancePoint {
  /** ms since the epoch */
  t: number
  balance: number
}

/**
 * The balance over time, from the current balance walked back through settled transfers
 * (newest first, as `/credits/history` pages them): pending and expired ones never counted.
 * Anchoring at the current balance keeps the line right even when older pages are not loaded.
 */
export function balanceSeries(entries: CreditHistoryEntry[], balance: number, now: number): BalancePoint[] {
  const settled = entries.filter((e) => e.state === 'settled').sort((a, b) => b.seq - a.seq)
  const points: BalancePoint[] = [{ t: now, balance }]
  let value = balance
  for (const e of settled) {
    const t = Date.parse(e.at)
    points.push({ t, balance: value })
    value -= e.direction === 'in' ? e.credits : -e.credits
    points.push({ t, balance: value })
  }
  // The line starts a little before the first change, so the step itself shows.
  const first = points.at(-1)!
  if (points.length > 1)
    points.push({ t: first.t - Math.max(60_000, (now - first.t) / 10), balance: first.balance })
  return points.reverse()
}

export interface ChartGeometry {
  /** SVG path of the stepped line */
  path: string
  /** SVG path of the area under it */
  area: string
  min: number
  max: number
  from: number
  to: number
}

/** Scales a series into a `width` × `height` box (with a little headroom above and below). */
export function chartGeometry(points: BalancePoint[], width: number, height: number): ChartGeometry | null {
  if (points.length === 0) return null
  const ts = points.map((p) => p.t)
  const vs = points.map((p) => p.balance)
  const from = Math.min(...ts)
  const to = Math.max(...ts)
  let min = Math.min(0, ...vs)
  let max = Math.max(0, ...vs)
  if (max === min) max = min + 1
  const pad = (max - min) * 0.08
  ;[min, max] = [min - pad, max + pad]
  const x = (t: number) => (to === from ? width : ((t - from) / (to - from)) * width)
  const y = (v: number) => height - ((v - min) / (max - min)) * height
  const line = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.balance).toFixed(1)}`)
  if (points.length === 1) line.unshift(`M0,${y(points[0]!.balance).toFixed(1)}`)
  const path =
    points.length === 1 ? `${line[0]} L${width},${y(points[0]!.balance).toFixed(1)}` : line.join(' ')
  const first = points.length === 1 ? 0 : x(points[0]!.t)
  const area = `${path} L${width},${y(min).toFixed(1)} L${first.toFixed(1)},${y(min).toFixed(1)} Z`
  return { path, area, min: min + pad, max: max - pad, from, to }
}
