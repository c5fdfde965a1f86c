import {
  ADVERT_TOPIC,
  type Coordinator,
  type HolePunchReport,
  type MeshPeer,
  type MeshStats,
  type OrchestrationSettings,
  type RuntimeMode,
} from '@edgecoder/protocol'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type {
  Connection,
  IdentifyResult,
  PeerId,
  StreamHandler,
  StreamHandlerOptions,
} from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { EventBus } from '../events.ts'
import type { NodeIdentity } from '../identity.ts'
import type { Logger } from '../logger.ts'
import type { SettingsStore } from '../settings/index.ts'
import { startupMark } from '../startup-trace.ts'
import type { Store } from '../store/index.ts'
import { AdvertTiming } from './advert-timing.ts'
import { Advertiser } from './advertiser.ts'
import { Connectivity } from './connectivity.ts'
import { GossipCounters } from './gossip-counters.ts'
import { HolePunchTracker } from './hole-punch.ts'
import { createHost, type MeshHost } from './host.ts'
import { IdentifyRepair } from './identify-repair.ts'
import { AdvertIntake } from './intake.ts'
import {
  DEFAULT_HOOKS,
  DEFAULT_PROVIDERS,
  localAdvert,
  type MeshHooks,
  type MeshProviders,
  rolesFor,
} from './local-advert.ts'
import type { MeshOptions } from './options.ts'
import { AdvertSequence, PeerCache } from './peer-cache.ts'
import { PeerTable } from './peer-table.ts'
import {
  advertAddrs,
  linkOf,
  type Reachability,
  rankAddresses,
  reachabilityOf,
  relaysOf,
} from './reachability.ts'
import { servesRelay } from './relay-service.ts'
import { REFUSED_PEER_SCORE } from './scoring.ts'
import { fetchSnapshot, SNAPSHOT_PROTOCOL, serveSnapshot } from './snapshot.ts'
import { meshStats } from './stats.ts'

const SNAPSHOT_TIMEOUT_MS = 10_000
/** A node connected but knowing no online peer asks a neighbour for its table again this often. */
const SNAPSHOT_RETRY_MS = 3_000
/** AutoNAT needs a few peers and a little time before "no public address confirmed" means private. */
const AUTONAT_GRACE_MS = 120_000

export interface MeshInit {
  options: MeshOptions
  identity: NodeIdentity
  settings: SettingsStore
  store: Store
  events: EventBus
  log: Logger
  mode: RuntimeMode
  version: string
  /** Activation by the portal: this node's certificate for its adverts, and which peers may enter. */
  activation?: {
    certificate(): unknown
    admit(peerId: string, activation: unknown): Promise<boolean>
  }
}

/**
 * The node's place in the mesh: a libp2p host, its advert on gossip, the table of peers it
 * knows, and the upkeep that keeps it connected. A Part: started before the API, stopped after.
 */
export class Mesh {
  readonly name = 'mesh'
  readonly peers: PeerTable
  readonly #init: MeshInit
  readonly #log: Logger
  readonly #counters = new GossipCounters()
  readonly #timing = new AdvertTiming()
  readonly #cache: PeerCache
  readonly #sequence: AdvertSequence
  readonly #selfId: string
  #providers: MeshProviders = DEFAULT_PROVIDERS
  #hooks: MeshHooks = DEFAULT_HOOKS
  readonly #holePunch = new HolePunchTracker()
  #host: MeshHost | undefined
  #intake: AdvertIntake | undefined
  #advertiser: Advertiser | undefined
  #connectivity: Connectivity | undefined
  #identifyRepair: IdentifyRepair | undefined
  #abort = new AbortController()
  #ticker: NodeJS.Timeout | undefined
  #hostStartedAt = 0
  /** Per neighbour: when its snapshot was last asked for, and whether one has arrived. */
  readonly #snapshots = new Map<string, { askedAt: number; got: boolean; inFlight: boolean }>()
  readonly #since = new Date()
  #lifecycle: Promise<void> = Promise.resolve()
  /** Protocols other parts serve on the host; registered again whenever the host restarts. */
  readonly #protocols = new Map<string, { handler: StreamHandler; options: StreamHandlerOptions }>()
  readonly #onSettings = (_s: OrchestrationSettings, keys: string[]) => {
    if (keys.includes('meshToken')) this.#lifecycle = this.#lifecycle.then(() => this.#restartHost())
    else if (keys.includes('bootstrapPeers')) this.#joinNow()
    else this.#advertiser?.changed()
  }

  constructor(init: MeshInit) {
    this.#init = init
    this.#log = init.log.child({ part: 'mesh' })
    this.#selfId = init.identity.peerId.toString()
    this.#cache = new PeerCache(init.store)
    this.#sequence = new AdvertSequence(init.store)
    this.peers = new PeerTable({ evictAfterHeartbeats: init.options.evictAfterHeartbeats })
    const remember = (p: MeshPeer) => this.#cache.remember({ ...p, lastSeen: Date.now() })
    this.peers.on('joined', (p) => {
      init.events.publish('peer-joined', p)
      remember(p)
    })
    this.peers.on('updated', (p, what) => {
      init.events.publish('peer-updated', { ...p, change: what })
      if (what === 'advert') remember(p)
    })
    this.peers.on('left', (peerId, reason) => init.events.publish('peer-left', { peerId, reason }))
  }

  /** The libp2p host while the mesh runs (other parts open their own protocols on it). */
  get host(): MeshHost | undefined {
    return this.#host
  }

  async start(): Promise<void> {
    this.#abort = new AbortController()
    await this.#startHost()
    this.#init.settings.on('change', this.#onSettings)
  }

  async stop(): Promise<void> {
    this.#init.settings.off('change', this.#onSettings)
    this.#abort.abort()
    await this.#lifecycle
    await this.#stopHost()
  }

  /** Serves a protocol on the host, now and after every restart of it (a new mesh token). */
  async handle(protocol: string, handler: StreamHandler, options: StreamHandlerOptions = {}): Promise<void> {
    this.#protocols.set(protocol, { handler, options })
    await this.#host?.handle(protocol, handler, options)
  }

  /** Hands the mesh live figures for the advert (models, slots, queue, load); publishes them. */
  setProviders(providers: Partial<MeshProviders>): void {
    this.#providers = { ...this.#providers, ...providers }
    this.advertChanged()
  }

  /** Hands the mesh other parts' verdicts on peers and their interest in relayed circuits. */
  setHooks(hooks: Partial<MeshHooks>): void {
    this.#hooks = { ...this.#hooks, ...hooks }
  }

  /** Whether this node offers itself as a circuit relay (see relay-service.ts). */
  get relays(): boolean {
    return servesRelay(this.#init.options)
  }

  /** Something the advert carries changed: it goes out within moments. */
  advertChanged(): void {
    this.#advertiser?.changed()
  }

  /** This node's multiaddrs, the most widely dialable first. */
  addresses(): string[] {
    return rankAddresses(this.#host?.getMultiaddrs() ?? [])
  }

  reachability(): Reachability {
    if (this.#host === undefined) return 'unknown'
    const hadTime = Date.now() - this.#hostStartedAt > AUTONAT_GRACE_MS
    return reachabilityOf(this.#host.services.addresses.list(), hadTime)
  }

  /** The private DHT: whether this node serves it, and how many DHT servers it knows. */
  dht(): { mode: 'client' | 'server'; routingTable: number } | null {
    const dht = this.#host?.services.dht
    if (dht === undefined) return null
    const table = (dht as unknown as { routingTable?: { size: number } }).routingTable
    return { mode: dht.getMode(), routingTable: table?.size ?? 0 }
  }

  /** Hole punching (DCUtR) on this node's relayed connections, and what came of it. */
  holePunch(): HolePunchReport {
    return this.#holePunch.report()
  }

  /** Relays holding a reservation for this node. */
  relayReservations(): number {
    return relaysOf(this.addresses()).size
  }

  /** Coordinators this node knows, itself included when it is one: what `--discovery-url` reads. */
  coordinators(): Coordinator[] {
    const s = this.#init.settings.get()
    const out: Coordinator[] = []
    if (rolesFor(this.#init.mode, s).includes('coordinator') && this.#host !== undefined) {
      out.push({ peerId: this.#selfId, addrs: this.addresses().slice(0, 16), region: s.region })
    }
    for (const p of this.peers.list()) {
      if (p.roles.includes('coordinator') && p.state !== 'offline') {
        out.push({ peerId: p.peerId, addrs: p.addrs, region: p.region })
      }
    }
    return out
  }

  stats(): MeshStats {
    return meshStats(this.#host, this.#counters, this.#intake, this.#since, this.#timing)
  }

  async #startHost(): Promise<void> {
    const { options, identity, settings, version } = this.#init
    const host = await createHost({
      privateKey: identity.privateKey,
      options,
      meshToken: settings.get().meshToken,
      counters: this.#counters,
      version,
      appScore: (peerId) => (this.#hooks.refused(peerId) ? REFUSED_PEER_SCORE : 0),
      onCircuit: (src, dst) => this.#hooks.carried(src, dst),
    })
    startupMark('mesh: libp2p built')
    const intake = new AdvertIntake({
      selfId: this.#selfId,
      table: this.peers,
      maxAdvertAgeMs: options.maxAdvertAgeMs,
      maxClockSkewMs: options.maxClockSkewMs,
      evictAfterHeartbeats: options.evictAfterHeartbeats,
      admit: this.#init.activation ? (p, a) => this.#init.activation!.admit(p, a) : undefined,
      timing: this.#timing,
      log: this.#log,
    })
    host.services.pubsub.topicValidators.set(ADVERT_TOPIC, (source, msg) =>
      // Only signed gossip names its author; anything else can't be checked against the advert.
      msg.type === 'signed'
        ? intake.fromGossip(msg.from.toString(), source.toString(), msg.data)
        : TopicValidatorResult.Reject,
    )
    await host.handle(
      SNAPSHOT_PROTOCOL,
      (stream) =>
        serveSnapshot(stream, this.#snapshot(), AbortSignal.timeout(SNAPSHOT_TIMEOUT_MS)).catch((err) =>
          this.#log.debug({ err: (err as Error).message }, 'snapshot not served'),
        ),
      // Small and read-only: served over a relayed connection too, so a NAT'd peer learns the mesh.
      { maxInboundStreams: 4, runOnLimitedConnection: true },
    )
    for (const [protocol, h] of this.#protocols) await host.handle(protocol, h.handler, h.options)
    host.addEventListener('peer:identify', (e) => this.#onIdentify(e.detail))
    this.#identifyRepair = new IdentifyRepair(host, this.#log)
    // The advert sent at start reached no one; the first peer to subscribe gets a fresh one.
    host.services.pubsub.addEventListener('subscription-change', () => {
      if (host.services.pubsub.getSubscribers(ADVERT_TOPIC).length === 1) this.#advertiser?.changed()
    })
    host.addEventListener('connection:open', (e) => this.#onConnection(e.detail, 'open'))
    host.addEventListener('connection:close', (e) => this.#onConnection(e.detail, 'close'))
    await host.start()
    startupMark('mesh: libp2p started')
    await this.#holePunch.start(host)
    host.services.pubsub.subscribe(ADVERT_TOPIC)
    this.#host = host
    this.#intake = intake
    this.#hostStartedAt = Date.now()
    this.#advertiser = new Advertiser({
      peerId: this.#selfId,
      key: identity.privateKey,
      version,
      baseHeartbeatMs: options.heartbeatMs,
      sequence: this.#sequence,
      content: () => {
        const content = localAdvert(
          this.#init.mode,
          this.#init.settings.get(),
          this.#providers,
          advertAddrs(this.addresses()),
          this.relays,
        )
        const activation = this.#init.activation?.certificate()
        return activation ? { ...content, activation } : content
      },
      knownPeers: () => this.peers.counts().online + this.peers.counts().suspect,
      timing: this.#timing,
      // A change goes straight to every connected peer; a heartbeat travels the gossip mesh.
      publish: async (bytes, urgent) => {
        await host.services.pubsub.publish(ADVERT_TOPIC, bytes, { floodPublish: urgent })
      },
      log: this.#log,
    })
    this.#advertiser.start()
    this.#connectivity = new Connectivity(
      host,
      options,
      this.#cache,
      this.peers,
      this.#log,
      () => this.#init.settings.get().bootstrapPeers,
    )
    const signal = this.#abort.signal
    void this.#connectivity.join(signal).then((n) => {
      if (n > 0) this.#log.info({ connected: n }, 'joined the mesh')
      else this.#log.info('no entry point answered yet: waiting for peers to dial in')
    })
    const tickMs = Math.max(50, Math.min(1000, Math.round(options.heartbeatMs / 4)))
    this.#ticker = setInterval(() => this.#tick(), tickMs)
    this.#ticker.unref()
    this.#log.info(
      { addrs: this.addresses(), private: settings.get().meshToken !== null },
      'mesh host listening',
    )
  }

  async #stopHost(): Promise<void> {
    clearInterval(this.#ticker)
    this.#advertiser?.stop()
    const host = this.#host
    this.#host = undefined
    this.#advertiser = undefined
    this.#connectivity = undefined
    this.#identifyRepair = undefined
    this.#snapshots.clear()
    this.#holePunch.stop()
    await host?.stop()
  }

  /** A new mesh token means another network: the host restarts behind the new key. */
  async #restartHost(): Promise<void> {
    if (this.#abort.signal.aborted) return
    this.#log.info('mesh token changed: restarting the mesh host')
    await this.#stopHost()
    await this.#startHost()
  }

  /** New entry points are dialed at once, not at the next rejoin. */
  #joinNow(): void {
    void this.#connectivity?.join(this.#abort.signal).then((n) => {
      this.#log.info({ connected: n }, 'bootstrap peers changed: dialed the entry points')
    })
  }

  #snapshot(): Uint8Array[] {
    const own = this.#advertiser?.latest
    const others = this.peers.snapshot().map((a) => a.bytes)
    return own === undefined ? others : [own, ...others]
  }

  #onIdentify(result: IdentifyResult): void {
    if (!result.protocols.includes(SNAPSHOT_PROTOCOL)) return
    // One snapshot per newly met peer: later connections to it add nothing gossip won't bring.
    if (this.#snapshots.get(result.peerId.toString())?.got) return
    this.#askSnapshot(result.peerId)
  }

  /**
   * Fills the table from a neighbour's. Asked once per neighbour met; asked again, of any
   * neighbour that serves it, while the node is connected yet knows no online peer: a snapshot
   * lost to a slow handshake or to two connections racing must not leave a node alone until
   * gossip happens to reach it.
   */
  #askSnapshot(peer: PeerId): void {
    const host = this.#host
    if (host === undefined) return
    const peerId = peer.toString()
    const state = this.#snapshots.get(peerId) ?? { askedAt: 0, got: false, inFlight: false }
    if (state.inFlight) return
    state.inFlight = true
    state.askedAt = Date.now()
    this.#snapshots.set(peerId, state)
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(SNAPSHOT_TIMEOUT_MS)])
    fetchSnapshot(host, peer, signal)
      .then((adverts) => {
        state.got = true
        return this.#intake?.fromSnapshot(adverts, peerId)
      })
      // A first RTT now; the connection monitor refreshes it every few seconds after.
      .then(() => host.services.ping.ping(peer, { signal }))
      .then((rtt) => this.#linkPeer(peerId, rtt))
      .catch((err) => this.#log.debug({ peer: peerId, err: (err as Error).message }, 'snapshot not fetched'))
      .finally(() => {
        state.inFlight = false
      })
  }

  /** Connected, yet no online peer in the table: ask one neighbour that serves snapshots. */
  async #refillWhenAlone(now: number): Promise<void> {
    const host = this.#host
    if (host === undefined || this.peers.counts().online > 0) return
    for (const peer of host.getPeers()) {
      const state = this.#snapshots.get(peer.toString())
      if (state?.inFlight || now - (state?.askedAt ?? 0) < SNAPSHOT_RETRY_MS) continue
      const known = await host.peerStore.get(peer).catch(() => null)
      if (!known?.protocols.includes(SNAPSHOT_PROTOCOL)) continue
      this.#askSnapshot(peer)
      return
    }
  }

  #onConnection(conn: Connection, what: 'open' | 'close'): void {
    const peerId = conn.remotePeer.toString()
    // Opening or closing, the connection shows the peer was there just now.
    this.peers.touch(peerId, Date.now())
    if (what === 'close' && !this.#linkPeer(peerId)) this.#snapshots.delete(peerId)
  }

  /** Records how the peer is reached now; true while a connection to it is open. */
  #linkPeer(peerId: string, measuredRtt?: number): boolean {
    const link = linkOf(this.#host?.getConnections(peerIdFromString(peerId)) ?? [])
    this.peers.link(peerId, link.connection, measuredRtt ?? link.rttMs)
    return link.connection !== null
  }

  #tick(): void {
    const now = Date.now()
    for (const p of this.peers.list()) if (this.#linkPeer(p.peerId)) this.peers.touch(p.peerId, now)
    this.peers.tick(now)
    if (this.#connectivity !== undefined) void this.#connectivity.maintain(this.#abort.signal)
    void this.#refillWhenAlone(now)
    this.#identifyRepair?.check(now, this.#abort.signal)
  }
}
