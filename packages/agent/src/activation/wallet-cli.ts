import { parseArgs } from 'node:util'
import type { Block } from '@edgecoder/protocol'
import { joinDashValues } from '../args.ts'
import { ClientError, clientOptions, request } from '../cli/index.ts'

interface WithdrawalView {
  id: string
  peerId: string
  credits: number
  memo: string
  to: string
  state: 'awaiting_proposal' | 'paying' | 'paid' | 'failed'
  agreement: Block | null
  failure: string | null
}

async function portalCall<T>(portal: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, portal.endsWith('/') ? portal : `${portal}/`), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  })
  const json = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null
  if (!res.ok)
    throw new ClientError(
      `portal: ${json?.error ? `${json.error.code}: ${json.error.message}` : `status ${res.status}`}`,
    )
  return json as T
}

const WALLET_FLAGS = {
  portal: { type: 'string' },
  id: { type: 'string' },
  'api-url': { type: 'string' },
  'data-dir': { type: 'string' },
} as const

/**
 * `edgecoder wallet withdraw --portal URL --id ID`: carries out a withdrawal the owner started
 * in the portal: the node proposes the transfer, the portal pays the invoice and answers its
 * agreement, the node ingests it. (Grants bought on the portal: `edgecoder credits claim`.)
 */
export async function walletCommand(argv: string[]): Promise<number> {
  let parsed: {
    values: { portal?: string; id?: string; 'api-url'?: string; 'data-dir'?: string }
    positionals: string[]
  }
  try {
    parsed = parseArgs({
      args: joinDashValues(argv, WALLET_FLAGS),
      options: WALLET_FLAGS,
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    process.stderr.write(`edgecoder wallet: ${(err as Error).message}\n`)
    return 2
  }
  const verb = parsed.positionals[0]
  const portal = parsed.values.portal ?? process.env.EDGECODER_PORTAL_URL
  if (!portal || verb !== 'withdraw' || !parsed.values.id) {
    process.stderr.write(
      'usage: edgecoder wallet withdraw --portal URL --id ID (grants: edgecoder credits claim)\n',
    )
    return 2
  }
  const opts = clientOptions(parsed.values)
  const local = async <T>(method: string, path: string, body?: unknown) =>
    (await (await request(opts, method, path, body)).json()) as T
  try {
    const { peerId } = await local<{ peerId: string }>('GET', '/health/runtime')
    const id = parsed.values.id!
    let w = await portalCall<WithdrawalView>(portal, 'GET', `wallet/withdrawals/${id}`)
    if (w.peerId !== peerId) throw new ClientError(`withdrawal ${id} is for node ${w.peerId}, not this one`)
    if (w.state === 'awaiting_proposal') {
      const { proposal } = await local<{ proposal: Block }>('POST', '/credits/transfers', {
        to: w.to,
        credits: w.credits,
        memo: w.memo,
      })
      w = await portalCall<WithdrawalView>(portal, 'POST', `wallet/withdrawals/${id}/proposal`, { proposal })
    }
    if (w.state === 'paid' && w.agreement) {
      await local('POST', '/credits/agreements', w.agreement)
      process.stdout.write(`withdrawal ${id}: paid; ${w.credits} credits transferred to the portal\n`)
      return 0
    }
    if (w.state === 'paying') {
      process.stdout.write(`withdrawal ${id}: payment under way; run this again to collect the agreement\n`)
      return 3
    }
    throw new ClientError(
      `withdrawal ${id}: ${w.state}${w.failure ? ` (${w.failure})` : ''}; nothing was transferred`,
    )
  } catch (err) {
    if (err instanceof ClientError) {
      process.stderr.write(`edgecoder wallet: ${err.message}\n`)
      return 1
    }
    throw err
  }
}
