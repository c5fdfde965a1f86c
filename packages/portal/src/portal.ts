import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { Accounts, accountRoutes, Passkeys, Sessions } from './accounts/index.ts'
import type { PortalConfig } from './config.ts'
import { type Database, openDatabase } from './db/index.ts'
import {
  buildServer,
  DEFAULT_RATE_RULES,
  type PortalApp,
  PortalError,
  RateLimiter,
  type RateRule,
} from './http/index.ts'
import { PortalKey } from './keys.ts'
import { LndRest } from './lightning/index.ts'
import { PortalLock } from './lock.ts'
import { type MailTransport, Outbox, smtpTransport } from './mail/index.ts'
import { Activation, nodeRoutes, SeedDirectory } from './nodes/index.ts'
import { uiRoutes } from './ui-routes.ts'
import { DEFAULT_WALLET_OPTIONS, Wallet, type WalletOptions, walletRoutes } from './wallet/index.ts'

export const PORTAL_VERSION = '0.1.0'
export const PORTAL_READY_PREFIX = 'EDGECODER_PORTAL_READY '
const UI_DIST = fileURLToPath(new URL('../ui/dist', import.meta.url))

export interface PortalReady {
  url: string
  publicUrl: string
  peerId: string
  publicKey: string
  database: 'pglite' | 'postgres'
  pid: number
  version: string
}

export interface PortalExtras {
  /** Overrides the SMTP transport built from the config. */
  transport?: MailTransport
  rateRules?: Record<string, RateRule>
  /** Wallet timings (tests shorten the poll). */
  wallet?: Partial<WalletOptions>
}

/** The portal process: database, key, mail, HTTP. Started in order, closed in reverse. */
export class Portal {
  readonly config: PortalConfig
  readonly log: Logger
  db!: Database
  key!: PortalKey
  app!: PortalApp
  outbox!: Outbox
  wallet: Wallet | null = null
  #stack: (() => Promise<void> | void)[] = []
  readonly #extras: PortalExtras

  constructor(config: PortalConfig, log: Logger, extras: PortalExtras = {}) {
    this.config = config
    this.log = log
    this.#extras = extras
  }

  async start(): Promise<PortalReady> {
    const { config, log } = this
    try {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
      const lock = new PortalLock(config.dataDir)
      lock.acquire()
      this.#stack.push(() => lock.release())
      this.key = await PortalKey.loadOrCreate(config.dataDir)
      this.db = await openDatabase(config)
      this.#stack.push(() => this.db.close())

      const smtp = config.smtpUrl ? smtpTransport(config.smtpUrl) : null
      if (smtp) this.#stack.push(() => smtp.close())
      this.outbox = new Outbox(
        this.db,
        { from: config.mailFrom, transport: this.#extras.transport ?? smtp, retryMs: 5_000, maxAttempts: 10 },
        log,
      )

      if (config.lndUrl !== null) {
        if (config.lndMacaroonFile === null) throw new Error('--lnd-url needs --lnd-macaroon-file')
        const ln = new LndRest({
          url: config.lndUrl,
          macaroonHex: readFileSync(config.lndMacaroonFile).toString('hex'),
          tlsCertPem: config.lndTlsCertFile ? readFileSync(config.lndTlsCertFile, 'utf8') : null,
        })
        this.wallet = new Wallet(
          this.db,
          this.key,
          ln,
          {
            ...DEFAULT_WALLET_OPTIONS,
            satsPerCredit: config.satsPerCredit,
            depositMaxSats: config.depositMaxSats,
            withdrawMaxSats: config.withdrawMaxSats,
            network: config.network,
            ...this.#extras.wallet,
          },
          log,
        )
        // What a previous run left between transfer and payment is settled before anything new.
        await this.wallet.start()
        const wallet = this.wallet
        this.#stack.push(() => wallet.stop())
      }

      // The public URL is needed before listening (WebAuthn and links); with port 0 it is known only after.
      let publicUrl = config.publicUrl?.replace(/\/$/, '') ?? ''
      const routesFor = (origin: string) => {
        const rp = { id: new URL(origin).hostname, name: 'EdgeCoder', origin }
        const limiter = new RateLimiter(this.#extras.rateRules ?? DEFAULT_RATE_RULES)
        const sessions = new Sessions(this.db)
        const accounts = new Accounts(this.db, this.outbox, origin)
        const passkeys = new Passkeys(this.db, rp)
        const activation = new Activation(this.db, this.key, config.certTtlSec)
        return [
          accountRoutes({ accounts, passkeys, sessions, limiter }),
          nodeRoutes({
            activation,
            sessions,
            accounts,
            limiter,
            key: this.key,
            db: this.db,
            admins: config.admins,
            seeds: config.seeds,
            seedDirectory: new SeedDirectory(config.coordinatorDiscoveryUrl, (err) =>
              this.log.warn({ err: err.message }, 'seed node not answering'),
            ),
          }),
          this.wallet
            ? walletRoutes({ wallet: this.wallet, sessions, limiter })
            : (app: PortalApp) => {
                const off = async () => {
                  throw new PortalError(503, 'wallet_off', 'this portal has no Lightning node configured')
                }
                app.all('/wallet', { schema: { hide: true } }, off)
                app.all('/wallet/*', { schema: { hide: true } }, off)
              },
          uiRoutes(UI_DIST),
        ]
      }
      const listenPort = await this.#reservePort()
      if (publicUrl === '') publicUrl = `http://localhost:${listenPort}`
      this.app = await buildServer(
        {
          version: PORTAL_VERSION,
          bodyLimitBytes: config.bodyLimitBytes,
          origin: new URL(publicUrl).origin,
          logger: log,
        },
        routesFor(new URL(publicUrl).origin),
      )
      await this.app.listen({ host: config.host, port: listenPort })
      this.#stack.push(() => this.app.close())
      this.outbox.start()
      this.#stack.push(() => this.outbox.stop())
      const addr = this.app.server.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : listenPort
      return {
        url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
        publicUrl,
        peerId: this.key.peerId,
        publicKey: this.key.publicKey,
        database: this.db.kind,
        pid: process.pid,
        version: PORTAL_VERSION,
      }
    } catch (err) {
      await this.close()
      throw err
    }
  }

  /** Port 0 means "any": pick it now, so the public URL can name it before the routes are built. */
  async #reservePort(): Promise<number> {
    if (this.config.port !== 0) return this.config.port
    const { createServer } = await import('node:net')
    return new Promise((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, this.config.host, () => {
        const a = s.address()
        const port = typeof a === 'object' && a !== null ? a.port : 0
        s.close(() => resolve(port))
      })
    })
  }

  async close(): Promise<void> {
    while (this.#stack.length > 0) {
      const stop = this.#stack.pop()!
      try {
        await stop()
      } catch (err) {
        this.log.warn({ err }, 'stop failed')
      }
    }
  }
}
