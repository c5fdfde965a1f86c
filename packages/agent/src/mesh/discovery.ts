import { type Coordinator, Coordinators } from '@edgecoder/protocol'

/** The discovery URL did not answer with a list of coordinators. */
export class DiscoveryError extends Error {
  override name = 'DiscoveryError'
}

const MAX_BODY_BYTES = 1024 * 1024

/** Reads `GET <url>/network/coordinators`: seed and coordinator nodes with their multiaddrs. */
export async function fetchCoordinators(url: string, signal: AbortSignal): Promise<Coordinator[]> {
  const base = url.endsWith('/') ? url : `${url}/`
  let res: Response
  try {
    res = await fetch(new URL('network/coordinators', base), {
      signal,
      headers: { accept: 'application/json' },
    })
  } catch (err) {
    if (signal.aborted) throw err
    throw new DiscoveryError(`discovery URL ${url} unreachable: ${(err as Error).message}`)
  }
  if (!res.ok) throw new DiscoveryError(`discovery URL ${url} answered ${res.status}`)
  const text = await res.text()
  if (text.length > MAX_BODY_BYTES) throw new DiscoveryError(`discovery URL ${url} answered too much`)
  let parsed: ReturnType<typeof Coordinators.safeParse>
  try {
    parsed = Coordinators.safeParse(JSON.parse(text))
  } catch {
    throw new DiscoveryError(`discovery URL ${url} did not answer JSON`)
  }
  if (!parsed.success) throw new DiscoveryError(`discovery URL ${url} answered an unexpected shape`)
  return parsed.data.coordinators
}

/** A peer's addresses in the form libp2p dials: each ending in `/p2p/<peerId>`. */
export function dialableAddrs(peerId: string, addrs: readonly string[]): string[] {
  return addrs.map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`))
}
