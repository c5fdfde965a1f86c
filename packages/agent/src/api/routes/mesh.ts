import { Coordinators, MeshPeerDetail, MeshPeers, MeshStats } from '@edgecoder/protocol'
import { z } from 'zod'
import type { Mesh } from '../../mesh/index.ts'
import { notFound } from '../errors.ts'
import type { RouteModule } from '../server.ts'

/** What the mesh routes read; the node's Mesh provides it. */
export type MeshView = Pick<Mesh, 'peers' | 'coordinators' | 'stats'>

/** The peer table, one peer in detail, the coordinators this node knows, and gossip counters. */
export const meshRoutes =
  (mesh: MeshView): RouteModule =>
  (app) => {
    app.get(
      '/mesh/peers',
      { schema: { summary: 'Peers this node knows, with their state', response: { 200: MeshPeers } } },
      async () => ({ peers: mesh.peers.list() }),
    )
    app.get(
      '/agent-mesh/peers/:id',
      {
        schema: {
          summary: 'One peer: its signed advert and the history of its states',
          params: z.object({ id: z.string().min(1).max(128) }),
          response: { 200: MeshPeerDetail },
        },
      },
      async (req) => {
        const peer = mesh.peers.get(req.params.id)
        if (peer === undefined) throw notFound(`peer ${req.params.id}`)
        return peer
      },
    )
    app.get(
      '/network/coordinators',
      {
        schema: {
          summary: 'Coordinator nodes this node knows (itself included), with multiaddrs to join through',
          response: { 200: Coordinators },
        },
      },
      async () => ({ coordinators: mesh.coordinators() }),
    )
    app.get(
      '/mesh/stats',
      {
        schema: {
          summary: 'Gossip traffic, advert verdicts and peer scores since start',
          response: { 200: MeshStats },
        },
      },
      async () => mesh.stats(),
    )
  }
