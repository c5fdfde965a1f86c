/** How the mesh part runs; `meshOptions()` fills in the defaults. */
export interface MeshOptions {
  /** Address the libp2p TCP and WebSocket listeners bind to. */
  host: string
  /** TCP port (0 = any); WebSockets listen on the next port up (or any port when 0). */
  port: number
  /** Multiaddrs to announce instead of the listen addresses (a public seed behind a proxy). */
  announce: readonly string[]
  bootstrap: readonly string[]
  discoveryUrl: string | null
  mdns: boolean
  /** Base heartbeat: an advert goes out at least this often in a small mesh. */
  heartbeatMs: number
  /** A peer silent for this many of its heartbeats leaves the table. */
  evictAfterHeartbeats: number
  /** Adverts older than this (by their timestamp) are stale. */
  maxAdvertAgeMs: number
  /** Adverts dated further ahead than this are refused: the sender's clock is off or it lies. */
  maxClockSkewMs: number
  /** Connections the node keeps open by dialing peers it knows; more may come in. */
  targetConnections: number
  /** Whether this node relays for peers behind NAT: `auto` when it has a public address. */
  relayService: 'auto' | 'on' | 'off'
}

export const MESH_DEFAULTS = {
  host: '0.0.0.0',
  port: 4001,
  announce: [],
  bootstrap: [],
  discoveryUrl: null,
  mdns: true,
  heartbeatMs: 10_000,
  evictAfterHeartbeats: 3,
  maxAdvertAgeMs: 60_000,
  maxClockSkewMs: 30_000,
  targetConnections: 8,
  relayService: 'auto',
} satisfies MeshOptions

/**
 * Each node aims to receive about this many heartbeats per base interval, whatever the mesh's size:
 * a node's heartbeat stretches as the mesh grows, so idle gossip per node stays flat (no storm).
 */
export const HEARTBEATS_PER_INTERVAL = 4

/** The longest a heartbeat stretches to, as a multiple of the base interval. */
export const MAX_HEARTBEAT_STRETCH = 30

/** Changes arriving closer together than this go out as one advert. */
export const ADVERT_COALESCE_MS = 50

export function meshOptions(partial: Partial<MeshOptions>): MeshOptions {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined))
  return { ...MESH_DEFAULTS, ...defined }
}

/** The heartbeat a node uses when it knows `peers` others. */
export function heartbeatFor(baseMs: number, peers: number): number {
  const stretch = Math.min(MAX_HEARTBEAT_STRETCH, Math.max(1, peers / HEARTBEATS_PER_INTERVAL))
  return Math.round(baseMs * stretch)
}
