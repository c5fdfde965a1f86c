import type { MultiaddrConnection } from '@libp2p/interface'

/**
 * New inbound connections one remote host may open per second. libp2p's own limit (5 per host
 * per second) refused nodes that share an address: several agents on one machine, or behind one
 * NAT, rejoining at once after a restart were answered with resets and stayed alone. Higher here,
 * and never for this machine's own loopback, whose connections are the operator's own nodes.
 */
export const INBOUND_PER_HOST_PER_SECOND = 20

/** Counts each remote host's new connections in the current second and refuses past the limit. */
export class InboundRate {
  readonly #limit: number
  readonly #now: () => number
  #second = -1
  #counts = new Map<string, number>()

  constructor(limit = INBOUND_PER_HOST_PER_SECOND, now: () => number = Date.now) {
    this.#limit = limit
    this.#now = now
  }

  /** Whether a new connection from `host` is let in; loopback always is. */
  admit(host: string | undefined): boolean {
    if (host === undefined || isLoopback(host)) return true
    const second = Math.floor(this.#now() / 1000)
    if (second !== this.#second) {
      this.#second = second
      this.#counts.clear()
    }
    const n = (this.#counts.get(host) ?? 0) + 1
    this.#counts.set(host, n)
    return n <= this.#limit
  }

  /** For libp2p's connection gater: true refuses the connection before its upgrade. */
  readonly denyInbound = (conn: MultiaddrConnection): boolean => !this.admit(remoteHost(conn))
}

function remoteHost(conn: MultiaddrConnection): string | undefined {
  const ip = conn.remoteAddr.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')
  return ip?.value
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.')
}
