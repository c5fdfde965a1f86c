import { PortalError } from './errors.ts'

export interface RateRule {
  /** Attempts allowed per window. */
  limit: number
  windowMs: number
}

/**
 * Fixed-window counters per key (an IP, an email): enough to stop guessing and mail floods from
 * one source. Kept in memory: a restart forgives, which costs an attacker a restart of ours.
 */
export class RateLimiter {
  readonly #rules: Record<string, RateRule>
  readonly #hits = new Map<string, { count: number; resetAt: number }>()
  readonly #now: () => number

  constructor(rules: Record<string, RateRule>, now: () => number = Date.now) {
    this.#rules = rules
    this.#now = now
  }

  /** Counts one attempt of `action` by `key`; throws 429 past the limit. */
  hit(action: string, key: string): void {
    const rule = this.#rules[action]
    if (rule === undefined) throw new Error(`no rate rule for ${action}`)
    const now = this.#now()
    const id = `${action}\u0000${key}`
    let slot = this.#hits.get(id)
    if (slot === undefined || slot.resetAt <= now) {
      slot = { count: 0, resetAt: now + rule.windowMs }
      this.#hits.set(id, slot)
    }
    slot.count++
    if (slot.count > rule.limit) {
      const retryAfterSec = Math.max(1, Math.ceil((slot.resetAt - now) / 1000))
      throw new PortalError(
        429,
        'rate_limited',
        `too many attempts; try again in ${retryAfterSec} s`,
        undefined,
        retryAfterSec,
      )
    }
    if (this.#hits.size > 100_000) this.#sweep(now)
  }

  #sweep(now: number): void {
    for (const [k, v] of this.#hits) if (v.resetAt <= now) this.#hits.delete(k)
  }
}

/** Defaults: sign-in tries, sign-ups and mail sends per IP and per address. */
export const DEFAULT_RATE_RULES: Record<string, RateRule> = {
  signIn: { limit: 10, windowMs: 60_000 },
  signUp: { limit: 5, windowMs: 10 * 60_000 },
  emailSend: { limit: 3, windowMs: 10 * 60_000 },
  enroll: { limit: 20, windowMs: 60_000 },
}
