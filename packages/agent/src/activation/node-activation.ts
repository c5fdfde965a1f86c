import type { ActivationCertificate } from '@edgecoder/protocol'
import { canonicalJson } from '@edgecoder/protocol'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { NodeIdentity } from '../identity.ts'
import type { Logger } from '../logger.ts'
import { verifyActivation } from './certificate.ts'
import { ActivationRefusedError, readActivation, renewActivation } from './renew.ts'

export interface NodeActivationOptions {
  dataDir: string
  /** The portal's public key (base64url, 32 bytes); null: peers' certificates are not checked. */
  portalKey: string | null
  /** Refuse adverts of peers without a valid certificate. */
  requireActivation: boolean
  /** Where to fetch revocations when this node is not enrolled itself (else its own portal). */
  portalUrl: string | null
  /** How often the revocation list is fetched: with eviction, it bounds how long a revoked peer stays. */
  revocationPollMs: number
}

/**
 * This node's activation (its certificate, renewed before it expires) and its view of peers'
 * activations (certificates checked against the portal key, minus the portal's revocation list).
 */
export class NodeActivation {
  readonly name = 'activation'
  readonly #opts: NodeActivationOptions
  readonly #identity: NodeIdentity
  readonly #log: Logger
  #certificate: ActivationCertificate | null = null
  #portal: string | null
  #revoked = new Set<string>()
  #timers: NodeJS.Timeout[] = []
  #abort = new AbortController()
  /** Called with peers found revoked, so the mesh can drop them at once. */
  onRevoked: (peerIds: string[]) => void = () => {}

  constructor(opts: NodeActivationOptions, identity: NodeIdentity, log: Logger) {
    this.#opts = opts
    this.#identity = identity
    this.#log = log.child({ part: 'activation' })
    this.#portal = opts.portalUrl
  }

  async start(): Promise<void> {
    const saved = readActivation(this.#opts.dataDir)
    if (saved && saved.certificate.peerId === this.#identity.peerId.toString()) {
      this.#certificate = saved.certificate
      this.#portal ??= saved.portal
      this.#scheduleRenewal()
    }
    if (this.#opts.portalKey !== null && this.#portal !== null) {
      await this.#pollRevocations()
      const t = setInterval(() => void this.#pollRevocations(), this.#opts.revocationPollMs)
      t.unref()
      this.#timers.push(t)
    }
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    for (const t of this.#timers) clearTimeout(t)
  }

  /** The portal this node is enrolled with (or reads revocations from). */
  get portal(): string | null {
    return this.#portal
  }

  /** Takes a certificate just issued (an enrollment while the node runs): carried from the next advert. */
  adopt(portal: string, certificate: ActivationCertificate): void {
    this.#certificate = certificate
    this.#portal = portal
    this.#scheduleRenewal()
  }

  /** This node's certificate, carried in its adverts. */
  certificate(): ActivationCertificate | null {
    return this.#certificate && this.#certificate.expiresAt > Date.now() ? this.#certificate : null
  }

  /** Whether an advert from `peerId` carrying `cert` may enter the peer table. */
  async admit(peerId: string, cert: unknown): Promise<boolean> {
    if (!this.#opts.requireActivation || this.#opts.portalKey === null) return true
    const v = await verifyActivation(cert, {
      portalKey: this.#opts.portalKey,
      peerId,
      revoked: this.#revoked,
    })
    return v.ok
  }

  #scheduleRenewal(): void {
    const cert = this.#certificate
    if (cert === null) return
    // Halfway through its life, so a portal that is briefly away costs nothing.
    const due = Math.max(1_000, (cert.expiresAt - Date.now()) / 2)
    const t = setTimeout(() => void this.#renew(), Math.min(due, 2 ** 31 - 1))
    t.unref()
    this.#timers.push(t)
  }

  async #renew(): Promise<void> {
    try {
      const next = await renewActivation(this.#opts.dataDir, this.#identity, this.#abort.signal)
      this.#certificate = next.certificate
      this.#log.info({ expiresAt: new Date(next.certificate.expiresAt).toISOString() }, 'activation renewed')
      this.#scheduleRenewal()
    } catch (err) {
      if (err instanceof ActivationRefusedError) {
        this.#log.warn(
          { reason: err.message },
          'the portal refused to renew this node: it is no longer activated',
        )
        this.#certificate = null
        return
      }
      if (this.#abort.signal.aborted) return
      this.#log.warn({ err: (err as Error).message }, 'activation renewal failed; will retry')
      const t = setTimeout(() => void this.#renew(), 30_000)
      t.unref()
      this.#timers.push(t)
    }
  }

  /** The portal's signed revocation list; one not signed by the portal key is ignored. */
  async #pollRevocations(): Promise<void> {
    try {
      const base = this.#portal!.endsWith('/') ? this.#portal! : `${this.#portal}/`
      const res = await fetch(new URL('activation/revocations', base), {
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(10_000)]),
      })
      if (!res.ok) throw new Error(`portal answered ${res.status}`)
      const list = (await res.json()) as { revoked?: unknown; signature?: unknown }
      const { signature, ...unsigned } = list
      const key = publicKeyFromRaw(Buffer.from(this.#opts.portalKey!, 'base64url'))
      const valid =
        typeof signature === 'string' &&
        Array.isArray(list.revoked) &&
        (await key.verify(
          new TextEncoder().encode(canonicalJson(unsigned)),
          Buffer.from(signature, 'base64url'),
        ))
      if (!valid) throw new Error('the revocation list is not signed by the portal key')
      const next = new Set((list.revoked as unknown[]).filter((p): p is string => typeof p === 'string'))
      const fresh = [...next].filter((p) => !this.#revoked.has(p))
      this.#revoked = next
      if (fresh.length > 0) {
        this.#log.info({ peers: fresh }, 'peers revoked by the portal')
        this.onRevoked(fresh)
      }
    } catch (err) {
      if (!this.#abort.signal.aborted)
        this.#log.warn({ err: (err as Error).message }, 'revocation list not fetched')
    }
  }
}
