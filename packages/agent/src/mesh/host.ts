import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ADVERT_TOPIC } from '@edgecoder/protocol'
import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { type GossipSub, gossipsub, type PublishResult } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { Libp2p, PeerDiscovery, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { type Ping, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { cachedSubnets, dialOrder } from './dial-order.ts'
import type { GossipCounters } from './gossip-counters.ts'
import { InboundRate } from './inbound-rate.ts'
import { noiseCrypto } from './noise-crypto.ts'
import type { MeshOptions } from './options.ts'
import { servesDht, servesRelay } from './relay-service.ts'
import { meshScoreParams, meshScoreThresholds } from './scoring.ts'
import { swarmKeyFromToken } from './swarm-key.ts'

/** The private DHT: never the public IPFS one. */
export const DHT_PROTOCOL = '/edgecoder/kad/1.0.0'
const MDNS_SERVICE_TAG = '_edgecoder._udp.local'
/** Gossip messages above this are dropped unread; adverts above 4 KB are read, refused and penalised. */
const MAX_GOSSIP_DATA = 64 * 1024
/**
 * Per address tried, for the TCP connect and the whole upgrade (Noise, yamux) together. A live
 * address answers within a few round trips even across continents, but on a loaded node each of
 * those steps also waits for the event loop of both ends: 4 s once left newcomers unable to join
 * a busy worker for minutes on a loaded 2-core machine. Addresses likely to drop packets are
 * tried after the relayed ones (dial-order.ts), so the wait rarely falls on them.
 */
const ADDRESS_DIAL_TIMEOUT_MS = 8_000
/**
 * Inbound connections still in their upgrade; past this libp2p refuses new ones (its default is
 * 10). A busy node upgrades slowly, and at 10 it refused every newcomer while its old peers
 * were fine.
 */
const MAX_INBOUND_UPGRADING = 32
/**
 * What a relayed connection through this node may carry: enough for a long task's stream, yet
 * bounded, so a relay is not an open proxy (libp2p's default, 128 KiB in 2 min, cuts tasks short).
 */
const RELAY_LIMITS = { defaultDurationLimit: 30 * 60_000, defaultDataLimit: BigInt(64 * 1024 * 1024) }

/** The parts of gossipsub the mesh uses beyond its public interface. */
export interface MeshGossip extends GossipSub {
  getScore(peerId: string): number
  getMeshPeers(topic: string): string[]
  publish(topic: string, data?: Uint8Array, opts?: { floodPublish?: boolean }): Promise<PublishResult>
}

/**
 * Mesh degree. Every peer in a node's gossip mesh sends it a copy of each advert, so the degree
 * sets the duplicates: 4 (pruned back above 5) keeps four independent paths while holding
 * duplicates, and idle bytes, about the same in a mesh of 20 as in one of 5, where every peer is
 * in the mesh anyway. Adverts are few and small: no need for more.
 */
/** The shortest time a connection's ping may take before libp2p gives the connection up. */
export const PING_TIMEOUT_MIN_MS = 15_000

const GOSSIP_DEGREE = { D: 4, Dlo: 3, Dhi: 5, Dscore: 2, Dout: 2, Dlazy: 4 }

/**
 * A gossip message's id before any check: its author and sequence number, the id gossipsub gives
 * a signed message once its signature is checked. With it, the copies that every mesh peer sends
 * (about three per advert) are dropped as duplicates before their Ed25519 signatures are checked
 * again. gossipsub remembers an id here only for a message that passed its own checks, so a
 * forged copy that arrives first does not hide the genuine one.
 */
export function fastMessageId(msg: { from?: Uint8Array; seqno?: Uint8Array }): string {
  if (msg.from === undefined || msg.seqno === undefined) return 'unsigned'
  return `${Buffer.from(msg.from).toString('base64')}:${Buffer.from(msg.seqno).toString('hex')}`
}

/** What the address manager says about one of our addresses (AutoNAT marks them verified). */
export interface SelfAddress {
  multiaddr: Multiaddr
  verified: boolean
  type: string
}

export interface MeshServices extends Record<string, unknown> {
  ping: Ping
  pubsub: MeshGossip
  dht: KadDHT
  identify: Identify
  addresses: { list(): SelfAddress[] }
}

export type MeshHost = Libp2p<MeshServices>

export interface HostInit {
  privateKey: PrivateKey
  options: MeshOptions
  meshToken: string | null
  counters: GossipCounters
  version: string
  /** The application's part of a peer's gossip score (gossipsub's P5): negative for peers it refuses. */
  appScore?: (peerId: string) => number
  /** A circuit between two peers opened through this node's relay. */
  onCircuit?: (src: string, dst: string) => void
}

/**
 * Builds (without starting) the node's libp2p host: TCP and WebSockets, noise, yamux, a pnet
 * protector when the mesh is private, identify, ping, the private DHT, circuit relay (served and
 * used), DCUtR, AutoNAT, gossipsub with topic scoring, bootstrap and mDNS discovery.
 */
export async function createHost(init: HostInit): Promise<MeshHost> {
  const { options } = init
  const ip = options.host.includes(':') ? 'ip6' : 'ip4'
  const wsPort = options.port === 0 || options.port >= 65535 ? 0 : options.port + 1
  const peerDiscovery: ((components: never) => PeerDiscovery)[] = []
  const bootstrapList = options.bootstrap.filter((a) => a.includes('/p2p/'))
  if (bootstrapList.length > 0) peerDiscovery.push(bootstrap({ list: bootstrapList, timeout: 0 }))
  if (options.mdns) peerDiscovery.push(mdns({ serviceTag: MDNS_SERVICE_TAG }))

  return createLibp2p<MeshServices>({
    start: false,
    privateKey: init.privateKey,
    nodeInfo: { name: 'edgecoder', version: init.version },
    addresses: {
      listen: [
        `/${ip}/${options.host}/tcp/${options.port}`,
        `/${ip}/${options.host}/tcp/${wsPort}/ws`,
        // Ask a relay for a reservation, so peers can reach this node even behind NAT.
        '/p2p-circuit',
      ],
      announce: [...options.announce],
    },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()],
    connectionProtector:
      init.meshToken === null ? undefined : preSharedKey({ psk: swarmKeyFromToken(init.meshToken) }),
    connectionGater: {
      denyInboundConnection: new InboundRate().denyInbound,
      // The relay server asks before joining two peers: a circuit this node carries, for its fee.
      denyOutboundRelayedConnection: (src, dst) => {
        init.onCircuit?.(src.toString(), dst.toString())
        return false
      },
    },
    connectionManager: {
      maxConnections: 200,
      addressSorter: dialOrder(cachedSubnets()),
      addressDialTimeout: ADDRESS_DIAL_TIMEOUT_MS,
      maxIncomingPendingConnections: MAX_INBOUND_UPGRADING,
      // Per-host rate limiting is the gater's (inbound-rate.ts); libp2p's own 5/s is left out of the way.
      inboundConnectionThreshold: Number.MAX_SAFE_INTEGER,
    },
    // libp2p aborts a connection whose ping (every 10 s) goes unanswered for 5 s. A node whose
    // event loop stalls that long (2 cores, a dozen agents and their sandboxes) lost every
    // connection at once and was left alone (tests/e2e/scale.test.ts). A dead peer is still found
    // within 25 s, and sooner by its adverts going silent.
    connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_MIN_MS } },
    peerDiscovery: peerDiscovery as never,
    services: {
      // The first identify gets longer than libp2p's 5 s: on a loaded machine it answers late
      // (identify-repair.ts retries it when it fails anyway).
      identify: identify({ timeout: 10_000 }),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        peerInfoMapper: passthroughMapper,
        clientMode: !servesDht(options, init.meshToken !== null),
      }),
      // Only a node others can dial is any use as a relay (see relay-service.ts).
      ...(servesRelay(options)
        ? { relay: circuitRelayServer({ reservations: { maxReservations: 64, ...RELAY_LIMITS } }) }
        : {}),
      dcutr: dcutr(),
      autonat: autoNAT(),
      pubsub: gossipsub({
        ...GOSSIP_DEGREE,
        // Heartbeats go through the mesh; the advertiser floods changes itself, per publish.
        floodPublish: false,
        allowedTopics: [ADVERT_TOPIC],
        allowPublishToZeroTopicPeers: true,
        maxInboundDataLength: MAX_GOSSIP_DATA,
        fastMsgIdFn: fastMessageId,
        scoreParams: meshScoreParams([], init.appScore),
        scoreThresholds: meshScoreThresholds(),
        metricsRegister: init.counters.register,
        metricsTopicStrToLabel: new Map([[ADVERT_TOPIC, 'adverts']]),
      }) as never,
      addresses: ((components: { addressManager: { getAddressesWithMetadata(): SelfAddress[] } }) => ({
        list: () => components.addressManager.getAddressesWithMetadata(),
      })) as never,
    },
  })
}
