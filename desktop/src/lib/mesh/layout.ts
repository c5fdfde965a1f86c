import type { MeshPeer } from './types.ts'

/** Where the graph draws a peer. */
export interface PlacedPeer {
  peer: MeshPeer
  x: number
  y: number
}

/** A region's arc of the ring and where its label goes. */
export interface PlacedRegion {
  name: string
  count: number
  labelX: number
  labelY: number
  anchor: 'start' | 'middle' | 'end'
  /** The arc behind the region's peers, as an SVG path. */
  arc: string
}

export interface MeshLayout {
  width: number
  height: number
  cx: number
  cy: number
  radius: number
  peers: PlacedPeer[]
  regions: PlacedRegion[]
}

export const NO_REGION = 'no region'

/** Regions by name, the peers without one last; peers by id inside a region, so positions stay put. */
export function groupByRegion(peers: readonly MeshPeer[]): [string, MeshPeer[]][] {
  const groups = new Map<string, MeshPeer[]>()
  for (const p of peers) {
    const key = p.region ?? NO_REGION
    const list = groups.get(key)
    if (list) list.push(p)
    else groups.set(key, [p])
  }
  for (const list of groups.values()) list.sort((a, b) => (a.peerId < b.peerId ? -1 : 1))
  return [...groups.entries()].sort(([a], [b]) =>
    a === NO_REGION ? 1 : b === NO_REGION ? -1 : a.localeCompare(b),
  )
}

/**
 * This node in the middle, its peers on a ring around it, each region an arc of the ring with
 * a gap before the next. Past 24 peers every other peer steps inwards, so 50 still have room.
 */
export function layoutByRegion(peers: readonly MeshPeer[], width = 720, height = 480): MeshLayout {
  const cx = width / 2
  const cy = height / 2
  const radius = Math.min(width, height) / 2 - 70
  const groups = groupByRegion(peers)
  const gap = groups.length > 1 ? 1 : 0
  const slots = Math.max(1, peers.length + gap * groups.length)
  const step = (2 * Math.PI) / slots
  const stagger = peers.length > 24 ? 28 : 0
  const placed: PlacedPeer[] = []
  const regions: PlacedRegion[] = []
  let slot = 0
  for (const [name, list] of groups) {
    const first = slot
    for (const [i, peer] of list.entries()) {
      const a = angle(slot, step)
      const r = radius - (i % 2 === 1 ? stagger : 0)
      placed.push({ peer, x: round(cx + r * Math.cos(a)), y: round(cy + r * Math.sin(a)) })
      slot++
    }
    const mid = angle((first + slot - 1) / 2, step)
    const lx = cx + (radius + 34) * Math.cos(mid)
    const ly = cy + (radius + 34) * Math.sin(mid)
    const cos = Math.cos(mid)
    regions.push({
      name,
      count: list.length,
      labelX: round(lx),
      labelY: round(ly + 4),
      anchor: cos > 0.3 ? 'start' : cos < -0.3 ? 'end' : 'middle',
      arc: arcPath(cx, cy, radius + 16, angle(first - 0.4, step), angle(slot - 0.6, step)),
    })
    slot += gap
  }
  return { width, height, cx, cy, radius, peers: placed, regions }
}

/** Slot 0 at the top, clockwise. */
function angle(slot: number, step: number): number {
  return -Math.PI / 2 + slot * step
}

function arcPath(cx: number, cy: number, r: number, from: number, to: number): string {
  const span = Math.min(to - from, 2 * Math.PI - 0.01)
  const end = from + span
  const [x1, y1] = [cx + r * Math.cos(from), cy + r * Math.sin(from)]
  const [x2, y2] = [cx + r * Math.cos(end), cy + r * Math.sin(end)]
  return `M${round(x1)} ${round(y1)} A${r} ${r} 0 ${span > Math.PI ? 1 : 0} 1 ${round(x2)} ${round(y2)}`
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}
