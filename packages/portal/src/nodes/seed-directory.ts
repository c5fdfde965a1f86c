import { type Coordinator, Coordinators } from '@edgecoder/protocol'

/** How long the seed's answer is reused: the portal's list is read by every joining node. */
const CACHE_MS = 30_000
const FETCH_TIMEOUT_MS = 3_000

/**
 * The seed node's own coordinator list, read from its `GET /network/coordinators`
 * (`COORDINATOR_DISCOVERY_URL`): the portal learns the seed's peer id and current addresses from
 * the seed itself instead of from a configured multiaddr. While the seed can't be reached the
 * last list it gave is served, so a seed restart doesn't empty the portal's answer.
 */
export class SeedDirectory {
  readonly #url: string | null
  readonly #onError: (err: Error) => void
  #cached: Coordinator[] = []
  #at = Number.NEGATIVE_INFINITY
  #inFlight: Promise<Coordinator[]> | null = null

  constructor(url: string | null, onError: (err: Error) => void = () => {}) {
    this.#url = url
    this.#onError = onError
  }

  async list(now = Date.now()): Promise<Coordinator[]> {
    if (this.#url === null || now - this.#at < CACHE_MS) return this.#cached
    this.#inFlight ??= this.#fetch(this.#url).finally(() => {
      this.#inFlight = null
    })
    return this.#inFlight
  }

  async #fetch(url: string): Promise<Coordinator[]> {
    try {
      const res = await fetch(new URL('network/coordinators', url.endsWith('/') ? url : `${url}/`), {
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        headers: { accept: 'application/json' },
      })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      this.#cached = Coordinators.parse(await res.json()).coordinators
      this.#at = Date.now()
    } catch (err) {
      this.#onError(new Error(`the seed's coordinator list at ${url}: ${(err as Error).message}`))
    }
    return this.#cached
  }
}
