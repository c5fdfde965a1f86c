import { homedir } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'

/** A setting that could not be used: names it, so the operator knows what to fix. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const Port = z.coerce.number().int().min(0).max(65535)

const PortalConfig = z.object({
  dataDir: z.string().min(1),
  host: z.string().min(1),
  port: Port,
  /** The origin people reach the portal at: WebAuthn's relying party, cookies and links are bound to it. */
  publicUrl: z.url().nullable(),
  /** A PostgreSQL server; without one the portal keeps an embedded PGlite database in its data dir. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a database URL starts with postgres:// or postgresql://')
    .nullable(),
  /** SMTP server for the outbox, e.g. smtp://user:pass@mail.example:587; without one mail stays queued. */
  smtpUrl: z
    .string()
    .regex(/^smtps?:\/\//, 'an SMTP URL starts with smtp:// or smtps://')
    .nullable(),
  mailFrom: z.string().min(3),
  /** Emails of accounts that may approve coordinators. */
  admins: z.array(z.email()),
  /** Multiaddrs of the seed node(s), always listed first by /network/coordinators. */
  seeds: z.array(
    z
      .string()
      .regex(/^\/[a-z0-9]/, 'a seed address is a multiaddr, e.g. /dns4/seed.example/tcp/4001/p2p/12D3Koo...'),
  ),
  /** The seed node's API (`COORDINATOR_DISCOVERY_URL`): its coordinator list is listed first. */
  coordinatorDiscoveryUrl: z.url().nullable(),
  /** Lifetime of an activation certificate: a revocation reaches every node within it. */
  certTtlSec: z.coerce
    .number()
    .int()
    .min(10)
    .max(90 * 86_400),
  /** Sats one credit costs on deposit and pays on withdrawal. */
  satsPerCredit: z.coerce.number().int().min(1).max(100_000_000),
  depositMaxSats: z.coerce.number().int().min(1),
  withdrawMaxSats: z.coerce.number().int().min(1),
  network: z.enum(['bc', 'tb', 'bcrt', 'tbs']),
  /** LND's REST endpoint; without it the wallet is off. */
  lndUrl: z.url().nullable(),
  lndMacaroonFile: z.string().nullable(),
  lndTlsCertFile: z.string().nullable(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  bodyLimitBytes: z.number().int().positive(),
})
export type PortalConfig = Readonly<z.infer<typeof PortalConfig>>

/** Flags of `edgecoder portal start`, each with the environment variable that also sets it (flags win). */
export const PORTAL_FLAGS = {
  'data-dir': {
    type: 'string',
    env: 'EDGECODER_PORTAL_DATA_DIR',
    help: 'portal key and embedded database (~/.edgecoder-portal)',
  },
  host: { type: 'string', env: 'EDGECODER_PORTAL_HOST', help: 'listen address (127.0.0.1)' },
  port: { type: 'string', env: 'EDGECODER_PORTAL_PORT', help: 'listen port (4310; 0 = any free port)' },
  'public-url': {
    type: 'string',
    env: 'EDGECODER_PORTAL_PUBLIC_URL',
    help: 'origin people use, e.g. https://portal.example (http://localhost:<port>)',
  },
  'database-url': {
    type: 'string',
    env: 'DATABASE_URL',
    help: 'PostgreSQL server (embedded PGlite in the data dir)',
  },
  'smtp-url': {
    type: 'string',
    env: 'EDGECODER_PORTAL_SMTP_URL',
    help: 'SMTP server for verification mail (none: mail stays in the outbox)',
  },
  'mail-from': {
    type: 'string',
    env: 'EDGECODER_PORTAL_MAIL_FROM',
    help: 'sender address (EdgeCoder <no-reply@localhost>)',
  },
  admin: {
    type: 'string',
    multiple: true,
    env: 'EDGECODER_PORTAL_ADMINS',
    help: 'email of an admin account; repeatable (env: comma-separated)',
  },
  seed: {
    type: 'string',
    multiple: true,
    env: 'EDGECODER_PORTAL_SEEDS',
    help: 'seed node multiaddr listed first; repeatable (env: comma-separated)',
  },
  'coordinator-discovery-url': {
    type: 'string',
    env: 'COORDINATOR_DISCOVERY_URL',
    help: "the seed node's API URL; its GET /network/coordinators is listed first",
  },
  'cert-ttl-sec': {
    type: 'string',
    env: 'EDGECODER_PORTAL_CERT_TTL_SEC',
    help: 'activation certificate lifetime, bounds revocation (86400)',
  },
  'sats-per-credit': {
    type: 'string',
    env: 'EDGECODER_PORTAL_SATS_PER_CREDIT',
    help: 'sats one credit costs and pays out (1)',
  },
  'deposit-max-sats': {
    type: 'string',
    env: 'EDGECODER_PORTAL_DEPOSIT_MAX_SATS',
    help: 'largest deposit (1000000)',
  },
  'withdraw-max-sats': {
    type: 'string',
    env: 'EDGECODER_PORTAL_WITHDRAW_MAX_SATS',
    help: 'largest withdrawal (100000)',
  },
  network: {
    type: 'string',
    env: 'EDGECODER_PORTAL_NETWORK',
    help: 'invoices accepted: bc | tb | bcrt | tbs (bc)',
  },
  'lnd-url': {
    type: 'string',
    env: 'EDGECODER_PORTAL_LND_URL',
    help: "LND's REST endpoint, e.g. https://127.0.0.1:8080 (none: wallet off)",
  },
  'lnd-macaroon-file': {
    type: 'string',
    env: 'EDGECODER_PORTAL_LND_MACAROON_FILE',
    help: 'LND macaroon with invoice and payment rights',
  },
  'lnd-tls-cert-file': {
    type: 'string',
    env: 'EDGECODER_PORTAL_LND_TLS_CERT_FILE',
    help: "LND's tls.cert (none: system CAs)",
  },
  'log-level': { type: 'string', env: 'EDGECODER_LOG_LEVEL', help: 'pino level (info)' },
} as const

type FlagName = keyof typeof PORTAL_FLAGS

/** Flags and environment into one frozen, validated config. */
export function loadPortalConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): PortalConfig {
  let values: Partial<Record<FlagName, string | string[]>>
  try {
    const options = Object.fromEntries(
      Object.entries(PORTAL_FLAGS).map(([k, v]) => [k, { type: 'string', multiple: 'multiple' in v }]),
    ) as Record<FlagName, { type: 'string'; multiple: boolean }>
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const pick = (k: FlagName): string | undefined => {
    const v = values[k]
    if (typeof v === 'string') return v
    const e = env[PORTAL_FLAGS[k].env]
    return e === undefined || e === '' ? undefined : e
  }
  const list = (k: FlagName): string[] => {
    const v = values[k]
    if (Array.isArray(v)) return v
    return (env[PORTAL_FLAGS[k].env] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  }
  const raw = {
    dataDir: resolve(pick('data-dir') ?? resolve(homedir(), '.edgecoder-portal')),
    host: pick('host') ?? '127.0.0.1',
    port: pick('port') ?? '4310',
    publicUrl: pick('public-url') ?? null,
    databaseUrl: pick('database-url') ?? null,
    smtpUrl: pick('smtp-url') ?? null,
    mailFrom: pick('mail-from') ?? 'EdgeCoder <no-reply@localhost>',
    admins: list('admin').map((s) => s.toLowerCase()),
    seeds: list('seed'),
    coordinatorDiscoveryUrl: pick('coordinator-discovery-url') ?? null,
    certTtlSec: pick('cert-ttl-sec') ?? '86400',
    satsPerCredit: pick('sats-per-credit') ?? '1',
    depositMaxSats: pick('deposit-max-sats') ?? '1000000',
    withdrawMaxSats: pick('withdraw-max-sats') ?? '100000',
    network: pick('network') ?? 'bc',
    lndUrl: pick('lnd-url') ?? null,
    lndMacaroonFile: pick('lnd-macaroon-file') ?? null,
    lndTlsCertFile: pick('lnd-tls-cert-file') ?? null,
    logLevel: pick('log-level') ?? 'info',
    bodyLimitBytes: 64 * 1024,
  }
  const parsed = PortalConfig.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const key = String(issue.path[0] ?? '')
    const flag = FIELD_FLAGS[key] ?? Object.keys(PORTAL_FLAGS).find((f) => camel(f) === key) ?? key
    throw new ConfigError(`--${flag}: ${issue.message}`)
  }
  return Object.freeze(parsed.data)
}

const FIELD_FLAGS: Record<string, string> = { admins: 'admin', seeds: 'seed' }
const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
