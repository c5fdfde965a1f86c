export { AdvertTooLargeError, type CheckedAdvert, checkAdvert, signAdvert } from './adverts.ts'
export { DiscoveryError, fetchCoordinators } from './discovery.ts'
export { DHT_PROTOCOL, type MeshHost } from './host.ts'
export { DEFAULT_HOOKS, DEFAULT_PROVIDERS, type MeshHooks, type MeshProviders } from './local-advert.ts'
export { Mesh, type MeshInit } from './mesh.ts'
export { type OpenStreamOptions, openStream } from './open-stream.ts'
export {
  HEARTBEATS_PER_INTERVAL,
  heartbeatFor,
  MESH_DEFAULTS,
  type MeshOptions,
  meshOptions,
} from './options.ts'
export { AdvertSequence, type CachedPeer, PeerCache } from './peer-cache.ts'
export { type PeerVerifier, peerVerifier } from './peer-keys.ts'
export { type AdvertOutcome, PeerTable } from './peer-table.ts'
export type { Reachability } from './reachability.ts'
export { SNAPSHOT_PROTOCOL } from './snapshot.ts'
export { swarmKeyFromToken } from './swarm-key.ts'
