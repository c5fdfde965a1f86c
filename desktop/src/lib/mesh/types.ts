/** The mesh routes' bodies as the Mesh Topology panel reads them (see docs/mesh.md). */

export type PeerState = 'online' | 'suspect' | 'offline'

export interface AdvertModel {
  name: string
  family: string | null
  parameters: string | null
  quantization: string | null
  contextLength: number | null
}

/** One row of `GET /mesh/peers`, also the body of `peer-joined` and `peer-updated`. */
export interface MeshPeer {
  peerId: string
  state: PeerState
  region: string | null
  roles: string[]
  models: AdvertModel[]
  slots: { total: number; free: number } | null
  queueDepth: number
  load: number | null
  power: 'active' | 'standby' | 'paused'
  rttMs: number | null
  lastSeen: string | null
  /** How this node reaches the peer now; null when it is known through gossip only. */
  connection: 'direct' | 'relayed' | null
  addrs: string[]
}

export interface PeerStateChange {
  state: PeerState
  at: string
  reason: string
}

/** `GET /agent-mesh/peers/:id`. */
export interface MeshPeerDetail extends MeshPeer {
  advert: { body: Record<string, unknown> & { seq: number; version: string; timestamp: number }; sig: string }
  advertReceivedAt: string
  firstSeen: string
  history: PeerStateChange[]
}

/** One entry of `GET /credits/history`. */
export interface CreditHistoryEntry {
  seq: number
  kind: string
  direction: 'in' | 'out'
  counterparty: string
  credits: number
  state: string
  taskId: string | null
  at: string
}
