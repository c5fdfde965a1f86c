import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { RateRule } from '../../src/http/index.ts'
import { loadPortalConfig, Portal, type PortalReady } from '../../src/index.ts'
import type { WalletOptions } from '../../src/wallet/index.ts'
import { SoftAuthenticator } from './authenticator.ts'
import { type PgCluster, startPgCluster } from './pg-cluster.ts'
import { linkToken, SmtpSink } from './smtp-sink.ts'

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely in tests and checked by assertions
type Json = any

export type Backend = 'pglite' | 'postgres'
export const BACKENDS: Backend[] = ['pglite', 'postgres']

export interface TestPortal {
  portal: Portal
  ready: PortalReady
  origin: string
  mail: SmtpSink
  dataDir: string
  stop(): Promise<void>
}

let cluster: PgCluster | null = null
let databases = 0

/** One throwaway PostgreSQL cluster per test file; each portal gets its own database in it. */
export async function databaseUrl(backend: Backend): Promise<string | null> {
  if (backend === 'pglite') return null
  cluster ??= await startPgCluster()
  const name = `portal_${++databases}`
  const pg = (await import('pg')).default
  const c = new pg.Client({ connectionString: cluster.url })
  await c.connect()
  await c.query(`CREATE DATABASE ${name}`)
  await c.end()
  return cluster.url.replace(/\/portal$/, `/${name}`)
}

export async function stopCluster(): Promise<void> {
  await cluster?.stop()
  cluster = null
}

export async function startTestPortal(
  backend: Backend,
  opts: {
    rateRules?: Record<string, RateRule>
    args?: string[]
    dataDir?: string
    databaseUrl?: string | null
    wallet?: Partial<WalletOptions>
  } = {},
): Promise<TestPortal> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'edgecoder-portal-'))
  const mail = new SmtpSink()
  const smtp = await mail.start()
  const db = opts.databaseUrl !== undefined ? opts.databaseUrl : await databaseUrl(backend)
  const config = loadPortalConfig(
    [
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--smtp-url',
      smtp,
      '--log-level',
      'warn',
      ...(db ? ['--database-url', db] : []),
      ...(opts.args ?? []),
    ],
    {},
  )
  const portal = new Portal(config, pino({ level: 'warn' }), {
    rateRules: opts.rateRules,
    wallet: opts.wallet,
  })
  const ready = await portal.start()
  return {
    portal,
    ready,
    origin: ready.publicUrl,
    mail,
    dataDir,
    async stop() {
      await portal.close()
      await mail.stop()
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A client that keeps cookies and the CSRF token, as the portal's own pages would. */
export class PortalClient {
  readonly base: string
  readonly origin: string
  cookies = new Map<string, string>()
  csrf = ''
  readonly authenticator: SoftAuthenticator

  constructor(t: { ready: { publicUrl: string }; origin: string }) {
    this.base = t.ready.publicUrl
    this.origin = t.origin
    this.authenticator = new SoftAuthenticator(t.origin)
  }

  async call(
    method: string,
    path: string,
    init: { json?: unknown; headers?: Record<string, string>; csrf?: boolean; origin?: string | null } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers }
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    if (init.json !== undefined) headers['content-type'] = 'application/json'
    if (method !== 'GET' && init.origin !== null) headers.origin = init.origin ?? this.origin
    if (method !== 'GET' && init.csrf !== false && this.csrf) headers['x-csrf-token'] = this.csrf
    const res = await fetch(this.base + path, {
      method,
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const i = pair!.indexOf('=')
      const name = pair!.slice(0, i)
      const value = pair!.slice(i + 1)
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return res
  }

  async json<T = Json>(
    method: string,
    path: string,
    init: Parameters<PortalClient['call']>[2] = {},
  ): Promise<{ status: number; body: T }> {
    const res = await this.call(method, path, init)
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : (null as T) }
  }

  /** Sign-up, the link from the mail, and a first passkey: a full session. */
  async signUpWithPasskey(t: { mail: SmtpSink }, email: string): Promise<string> {
    const before = t.mail.mails.filter((m) => m.to === email).length
    const up = await this.json('POST', '/auth/signup', { json: { email } })
    if (up.status !== 202) throw new Error(`signup: ${JSON.stringify(up.body)}`)
    const token = linkToken(await t.mail.waitFor(email, before))
    const link = await this.json('POST', '/auth/link', { json: { token } })
    if (link.status !== 200) throw new Error(`link: ${JSON.stringify(link.body)}`)
    this.csrf = link.body.csrfToken
    await this.addPasskey('first')
    return link.body.account.id
  }

  async addPasskey(name: string): Promise<string> {
    const opts = await this.json('POST', '/account/passkeys/options')
    if (opts.status !== 200) throw new Error(`passkey options: ${JSON.stringify(opts.body)}`)
    const reg = await this.json('POST', '/account/passkeys', {
      json: {
        challengeId: opts.body.challengeId,
        name,
        response: this.authenticator.create(opts.body.options),
      },
    })
    if (reg.status !== 201) throw new Error(`passkey: ${JSON.stringify(reg.body)}`)
    return reg.body.id
  }

  /** A fresh passkey assertion for this session (asked before a withdrawal). */
  async reauthenticate(index = 0): Promise<number> {
    const opts = await this.json('POST', '/account/reauth/options')
    const res = await this.call('POST', '/account/reauth', {
      json: {
        challengeId: opts.body.challengeId,
        response: this.authenticator.get(opts.body.options, index),
      },
    })
    return res.status
  }

  async signInWithPasskey(index = 0): Promise<{ status: number; body: Json }> {
    const opts = await this.json('POST', '/auth/passkey/options')
    const res = await this.json('POST', '/auth/passkey', {
      json: {
        challengeId: opts.body.challengeId,
        response: this.authenticator.get(opts.body.options, index),
      },
    })
    if (res.status === 200) this.csrf = res.body.csrfToken
    return res
  }
}
