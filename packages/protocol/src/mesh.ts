import { z } from 'zod'

/** The gossip topic every node publishes its advert on. */
export const ADVERT_TOPIC = '/edgecoder/adverts/1'

/** The largest advert on the wire, in bytes: gossip stays small, so meshes stay healthy. */
export const ADVERT_MAX_BYTES = 4096

/** Domain tag of advert signatures (see `signingBytes`). */
export const ADVERT_SIGNING_DOMAIN = 'advert'

/** What a node does for the mesh: takes tasks from others (`worker`), accepts and routes them (`coordinator`). */
export const NodeRole = z.enum(['coordinator', 'worker'])
export type NodeRole = z.infer<typeof NodeRole>

/** Whether a node takes work now: `standby` is outside its power policy's hours, `paused` is switched off. */
export const PowerState = z.enum(['active', 'standby', 'paused'])
export type PowerState = z.infer<typeof PowerState>

/** A model a node can run, as it advertises it. */
export const AdvertModel = z.object({
  name: z.string().min(1).max(128),
  family: z.string().max(64).nullable().default(null),
  /** Parameter count as people write it, e.g. `270M`, `7B`. */
  parameters: z.string().max(16).nullable().default(null),
  quantization: z.string().max(32).nullable().default(null),
  contextLength: z.number().int().min(0).max(10_000_000).nullable().default(null),
})
export type AdvertModel = z.infer<typeof AdvertModel>

export const Slots = z.object({
  total: z.number().int().min(0).max(1024),
  free: z.number().int().min(0).max(1024),
})
export type Slots = z.infer<typeof Slots>

/** Credits per 1,000 tokens and per CPU-second of the work a relay carried. */
export const RelayPrice = z
  .object({
    perKTokens: z.number().int().min(0).max(1_000_000),
    perCpuSecond: z.number().int().min(0).max(1_000_000),
  })
  .strict()
export type RelayPrice = z.infer<typeof RelayPrice>

/**
 * What a node tells the mesh about itself. Unknown fields are tolerated (and covered by the
 * signature) so that newer nodes can add some without older nodes rejecting their adverts.
 */
export const AdvertBody = z.object({
  v: z.literal(1),
  peerId: z.string().min(1).max(128),
  region: z.string().max(64).nullable(),
  roles: z.array(NodeRole).max(4),
  models: z.array(AdvertModel).max(32),
  provider: z.string().max(64).nullable(),
  slots: Slots,
  queueDepth: z.number().int().min(0).max(1_000_000),
  /** Busy share of the node's CPUs, 0 = idle; may exceed 1 on an overloaded machine. */
  load: z.number().min(0).max(1000),
  power: PowerState,
  version: z.string().max(32),
  /** Multiaddrs (ending in /p2p/<peerId>) where peers can dial this node. */
  addrs: z.array(z.string().max(256)).max(8),
  /** The sender's next advert is due within this many ms: receivers time its silence against it. */
  intervalMs: z
    .number()
    .int()
    .min(100)
    .max(30 * 60_000),
  /** Strictly increasing per sender, also across its restarts. */
  seq: z.number().int().min(1),
  /** When the sender signed it, in ms since the epoch. */
  timestamp: z.number().int().min(0),
  /** The sender's activation certificate from the portal, when it has one; receivers that require activation check it. */
  activation: z.unknown().optional(),
  /** The head of the sender's credit chain: peers fetch what they lack, and a different hash at a seq they hold is a fork. */
  chainHead: z
    .object({
      seq: z.number().int().min(1),
      /** The block's hash, first 16 hex digits: enough to tell two blocks apart, small on the wire. */
      hash: z.string().regex(/^[0-9a-f]{16}$/),
      /**
       * How many of the chain's proposals still lack an agreement the sender holds. A peer that
       * holds more of them open fetches the agreements it lacks, though the head did not move.
       */
      open: z.number().int().min(0).optional(),
    })
    .strict()
    .nullable()
    .optional(),
  /**
   * A relay's fee for carrying work between two peers, applied to the work's usage (tokens the
   * submitter received, sandbox time); present only on nodes that serve as relays.
   */
  relayPrice: RelayPrice.nullable().optional(),
})
export type AdvertBody = z.infer<typeof AdvertBody>

/** An advert as it travels: the body and its Ed25519 signature (base64url) by the sender's key. */
export const SignedAdvert = z.object({
  body: AdvertBody,
  sig: z.string().min(1).max(256),
})
export type SignedAdvert = z.infer<typeof SignedAdvert>

export const PeerState = z.enum(['online', 'suspect', 'offline'])
export type PeerState = z.infer<typeof PeerState>

/** How this node reaches a peer now: a direct connection, one through a relay, or none (learned through gossip). */
export const PeerConnection = z.enum(['direct', 'relayed']).nullable()

/** One peer in `GET /mesh/peers`. */
export const MeshPeer = z.object({
  peerId: z.string(),
  state: PeerState,
  region: z.string().nullable(),
  roles: z.array(NodeRole),
  models: z.array(AdvertModel),
  slots: Slots.nullable(),
  queueDepth: z.number().int(),
  load: z.number().nullable(),
  power: PowerState,
  rttMs: z.number().nullable(),
  lastSeen: z.string().nullable(),
  connection: PeerConnection,
  addrs: z.array(z.string()),
})
export type MeshPeer = z.infer<typeof MeshPeer>

export const MeshPeers = z.object({ peers: z.array(MeshPeer) })
export type MeshPeers = z.infer<typeof MeshPeers>

/** A change of a peer's state, kept so an operator can see how it came and went. */
export const PeerStateChange = z.object({
  state: z.enum(['online', 'suspect', 'offline']),
  at: z.string(),
  reason: z.string(),
})
export type PeerStateChange = z.infer<typeof PeerStateChange>

/** One peer in detail: `GET /agent-mesh/peers/:id`. */
export const MeshPeerDetail = MeshPeer.extend({
  advert: SignedAdvert,
  advertReceivedAt: z.string(),
  firstSeen: z.string(),
  history: z.array(PeerStateChange),
})
export type MeshPeerDetail = z.infer<typeof MeshPeerDetail>

/** A coordinator a node can join the mesh through. */
export const Coordinator = z.object({
  peerId: z.string().min(1).max(128),
  addrs: z.array(z.string().max(256)).max(16),
  region: z.string().nullable(),
})
export type Coordinator = z.infer<typeof Coordinator>

/** `GET /network/coordinators`: what a `--discovery-url` bootstrap reads. */
export const Coordinators = z.object({ coordinators: z.array(Coordinator).max(256) })
export type Coordinators = z.infer<typeof Coordinators>

/** Why an advert was refused; each counts against the peer that sent it. */
export const AdvertRejection = z.enum([
  'oversize',
  'malformed',
  'bad-signature',
  'sender-mismatch',
  'replayed',
  'stale',
  'future',
  'not-activated',
])
export type AdvertRejection = z.infer<typeof AdvertRejection>

/** How often one stage of an advert's way through a node ran, and how long it took (ms). */
export const AdvertStageTiming = z.object({
  count: z.number().int(),
  totalMs: z.number(),
  maxMs: z.number(),
})
export type AdvertStageTiming = z.infer<typeof AdvertStageTiming>

/** Gossip counters since start: `GET /mesh/stats`. */
export const MeshStats = z.object({
  since: z.string(),
  connections: z.number().int(),
  topicPeers: z.number().int(),
  meshPeers: z.number().int(),
  gossip: z.object({
    rpcSent: z.number(),
    rpcReceived: z.number(),
    bytesSent: z.number(),
    bytesReceived: z.number(),
    /** Messages seen for the first time. */
    messagesFirstSeen: z.number(),
    /** Copies of messages already seen. */
    messagesDuplicate: z.number(),
    published: z.number(),
    /**
     * Behaviour penalties this node gave its peers, by kind (gossipsub's P7: `broken_promise`, an
     * IHAVE whose message never came; `graft_backoff`, a GRAFT too soon after a PRUNE).
     */
    penalties: z.record(z.string(), z.number()).optional(),
    /**
     * What the traffic is made of, from gossipsub's counters: whole messages sent and received,
     * control entries sent, and the data bytes of what this node published (× the peers it went to).
     */
    parts: z
      .object({
        messagesSent: z.number(),
        messagesReceived: z.number(),
        ihaveSent: z.number(),
        iwantSent: z.number(),
        idontwantSent: z.number(),
        graftSent: z.number(),
        pruneSent: z.number(),
        publishedDataBytes: z.number(),
        publishedToPeers: z.number(),
      })
      .optional(),
  }),
  adverts: z.object({
    accepted: z.number().int(),
    ignored: z.number().int(),
    rejected: z.record(z.string(), z.number().int()),
  }),
  /** Gossip score of each peer this node is connected to. */
  scores: z.record(z.string(), z.number()),
  /** Time spent per stage of the adverts this node published and received (mesh/advert-timing.ts). */
  advertTiming: z.record(z.string(), AdvertStageTiming),
})
export type MeshStats = z.infer<typeof MeshStats>
