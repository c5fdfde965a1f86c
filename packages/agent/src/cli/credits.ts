import { parseArgs } from 'node:util'
import {
  type CreditBalance,
  type CreditHistory,
  GrantCertificate,
  type LedgerVerifyReport,
  type RuntimeHealth,
} from '@edgecoder/protocol'
import { z } from 'zod'
import { joinDashValues } from '../args.ts'
import { ClientError, type ClientOptions, call, clientOptions } from './client.ts'
import { pairs, table } from './format.ts'

const USAGE = `Usage:
  edgecoder credits [balance]              balance, earned, spent, pending, credit line
  edgecoder credits history [--limit N]    this node's transfers, newest first
  edgecoder credits verify                 validate every chain this node holds
  edgecoder credits claim --portal URL     fetch the grants the portal issued to this node and apply them

Flags: --api-url URL, --data-dir DIR, --json
`

const FLAGS = {
  'api-url': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  before: { type: 'string' },
  portal: { type: 'string' },
  help: { type: 'boolean' },
} as const

/** What the portal's `GET /wallet/grants` may answer: a list, or `{grants: [...]}`. */
const PortalGrants = z.union([z.array(GrantCertificate), z.object({ grants: z.array(GrantCertificate) })])

/** `edgecoder credits ...`: the ledger from the command line. */
export async function creditsCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true; strict: true }>>
  try {
    parsed = parseArgs({
      args: joinDashValues(argv, FLAGS),
      options: FLAGS,
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    process.stderr.write(`edgecoder credits: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const v = parsed.values
  if (v.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const opts = clientOptions(v)
  const out = (s: string) => process.stdout.write(`${s}\n`)
  const json = v.json ?? false
  const sub = parsed.positionals[0] ?? 'balance'
  try {
    switch (sub) {
      case 'balance':
        return balance(opts, json, out)
      case 'history':
        return history(opts, json, out, v.limit, v.before)
      case 'verify':
        return verify(opts, json, out)
      case 'claim':
        if (!v.portal) {
          process.stderr.write(`edgecoder credits claim: --portal URL is required\n`)
          return 2
        }
        return claim(opts, v.portal, json, out)
      default:
        process.stderr.write(`edgecoder credits: unknown subcommand "${sub}"\n\n${USAGE}`)
        return 2
    }
  } catch (err) {
    if (err instanceof ClientError) {
      process.stderr.write(`edgecoder credits: ${err.message}\n`)
      return 1
    }
    throw err
  }
}

type Out = (s: string) => void

async function balance(opts: ClientOptions, json: boolean, out: Out): Promise<number> {
  const b = await call<CreditBalance>(opts, 'GET', '/credits/balance')
  if (json) out(JSON.stringify(b, null, 2))
  else
    out(
      pairs([
        ['balance', `${b.balance} credits`],
        ['earned', String(b.earned)],
        ['spent', String(b.spent)],
        ['pending', `${b.pendingIn} in, ${b.pendingOut} out`],
        ['credit line', String(b.creditLine)],
        ['available', String(b.available)],
        ['chain', `${b.chainLength} blocks`],
      ]),
    )
  return 0
}

async function history(
  opts: ClientOptions,
  json: boolean,
  out: Out,
  limit?: string,
  before?: string,
): Promise<number> {
  const q = new URLSearchParams()
  if (limit) q.set('limit', limit)
  if (before) q.set('before', before)
  const h = await call<CreditHistory>(opts, 'GET', `/credits/history${q.size ? `?${q}` : ''}`)
  if (json) {
    out(JSON.stringify(h, null, 2))
    return 0
  }
  if (h.entries.length === 0) {
    out('no transfers yet')
    return 0
  }
  out(
    table(
      ['SEQ', 'TIME', 'KIND', 'DIR', 'CREDITS', 'STATE', 'COUNTERPARTY', 'TASK', 'UNITS'],
      h.entries.map((e) => [
        String(e.seq),
        e.at,
        e.kind,
        e.direction,
        String(e.credits),
        e.state,
        e.counterparty,
        e.taskId ?? '-',
        e.usage ? `${e.usage.tokens} tok, ${e.usage.cpuMs} ms` : '-',
      ]),
    ),
  )
  if (h.next !== null) out(`more: edgecoder credits history --before ${h.next}`)
  return 0
}

async function verify(opts: ClientOptions, json: boolean, out: Out): Promise<number> {
  const r = await call<LedgerVerifyReport>(opts, 'GET', '/credits/verify')
  if (json) out(JSON.stringify(r, null, 2))
  else {
    out(
      table(
        ['CHAIN', 'HELD', 'VALID', 'COMPLETE', 'BALANCE'],
        r.chains.map((c) => [
          c.peerId,
          String(c.held),
          c.valid ? 'yes' : 'NO',
          c.complete ? 'yes' : 'partial',
          String(c.balance),
        ]),
      ),
    )
    for (const p of r.problems) out(`problem: ${p.peerId} seq ${p.seq}: ${p.code}: ${p.message}`)
    for (const o of r.offenders) out(`offender: ${o} signed two blocks at one seq`)
    out(r.ok ? 'every chain held validates' : 'problems found')
  }
  return r.ok ? 0 : 1
}

async function claim(opts: ClientOptions, portal: string, json: boolean, out: Out): Promise<number> {
  const { peerId } = await call<RuntimeHealth>(opts, 'GET', '/health/runtime')
  const url = `${portal.replace(/\/$/, '')}/wallet/grants?peerId=${encodeURIComponent(peerId)}`
  let body: unknown
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
    if (!res.ok) throw new Error(`answered ${res.status}`)
    body = await res.json()
  } catch (err) {
    throw new ClientError(`the portal at ${portal}: ${(err as Error).message}`)
  }
  const parsed = PortalGrants.safeParse(body)
  if (!parsed.success) throw new ClientError(`the portal answered something that is not a list of grants`)
  const grants = Array.isArray(parsed.data) ? parsed.data : parsed.data.grants
  const applied: { grantId: string; credits: number; status: string }[] = []
  for (const g of grants) {
    try {
      await call(opts, 'POST', '/credits/grants', g)
      applied.push({ grantId: g.grantId, credits: g.credits, status: 'applied' })
    } catch (err) {
      applied.push({ grantId: g.grantId, credits: g.credits, status: (err as Error).message })
    }
  }
  if (json) out(JSON.stringify({ grants: applied }, null, 2))
  else if (applied.length === 0) out('the portal holds no grants for this node')
  else
    out(
      table(
        ['GRANT', 'CREDITS', 'STATUS'],
        applied.map((a) => [a.grantId, String(a.credits), a.status]),
      ),
    )
  return applied.every((a) => a.status === 'applied') ? 0 : 1
}
