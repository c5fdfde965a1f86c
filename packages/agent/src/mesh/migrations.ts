import type { Migrations } from '../store/index.ts'

/** The mesh's tables in the node's store: peers to dial at the next start, and the advert sequence. */
export const MESH_MIGRATIONS: Migrations = {
  module: 'mesh',
  steps: [
    `CREATE TABLE mesh_peer_cache (
      peer_id TEXT PRIMARY KEY,
      addrs TEXT NOT NULL,
      roles TEXT NOT NULL,
      last_seen INTEGER NOT NULL
    );
    CREATE TABLE mesh_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  ],
}
