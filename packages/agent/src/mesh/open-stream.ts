import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'

export interface OpenStreamOptions {
  signal: AbortSignal
  /** Where to dial the peer when no connection to it is open (its advertised addresses). */
  addrs?: readonly string[]
}

/**
 * A stream to a peer over a connection already open when there is one, else over a new dial.
 * libp2p itself reuses only unlimited connections, so a peer reachable only through a relay
 * would be dialled again for every stream; here the relayed (limited) connection is used too.
 */
export async function openStream(
  host: Libp2p,
  peer: PeerId,
  protocol: string,
  opts: OpenStreamOptions,
): Promise<Stream> {
  const open = bestOpen(host.getConnections(peer))
  if (open !== undefined) {
    try {
      return await open.newStream(protocol, { signal: opts.signal, runOnLimitedConnection: true })
    } catch (err) {
      // The connection may have closed under us: a fresh dial below is the answer.
      if (opts.signal.aborted) throw err
    }
  }
  const target: PeerId | Multiaddr[] =
    opts.addrs === undefined || opts.addrs.length === 0 ? peer : opts.addrs.map((a) => multiaddr(a))
  return host.dialProtocol(target, protocol, { signal: opts.signal, runOnLimitedConnection: true })
}

/** An open connection, unlimited ones (direct, or a relay without limits) first. */
function bestOpen(conns: Connection[]): Connection | undefined {
  const open = conns.filter((c) => c.status === 'open')
  return open.find((c) => c.limits === undefined) ?? open[0]
}
