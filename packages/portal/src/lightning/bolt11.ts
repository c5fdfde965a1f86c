import { bech32Decode, convertBits } from './bech32.ts'

/** What the portal needs from a BOLT11 invoice. The signature is checked by the Lightning node when it decodes or pays. */
export interface Bolt11 {
  network: 'bc' | 'tb' | 'bcrt' | 'tbs'
  /** null: an invoice without an amount (refused for withdrawals). */
  msat: bigint | null
  timestamp: number
  expirySec: number
  paymentHash: string
  description: string | null
  payee: string | null
}

export class Bolt11Error extends Error {
  override name = 'Bolt11Error'
}

const MULTIPLIER: Record<string, bigint> = { m: 100_000_000n, u: 100_000n, n: 100n, p: 1n }

/** Decodes a BOLT11 payment request (amount, time, expiry, payment hash), checking its checksum and shape. */
export function decodeBolt11(invoice: string): Bolt11 {
  let decoded: ReturnType<typeof bech32Decode>
  try {
    decoded = bech32Decode(invoice.trim().replace(/^lightning:/i, ''))
  } catch (err) {
    throw new Bolt11Error(`not a BOLT11 invoice: ${(err as Error).message}`)
  }
  const m = /^ln(bcrt|bc|tbs|tb)(\d+)?([munp])?$/.exec(decoded.hrp)
  if (!m) throw new Bolt11Error(`unknown invoice prefix "${decoded.hrp}"`)
  let msat: bigint | null = null
  if (m[2] !== undefined) {
    // Amounts are in bitcoin; the multiplier scales down. In pico-bitcoin, 10 p = 1 msat.
    const amount = BigInt(m[2])
    if (m[3] === undefined) msat = amount * 100_000_000_000n
    else if (m[3] === 'p') {
      if (amount % 10n !== 0n) throw new Bolt11Error('sub-millisatoshi amount')
      msat = amount / 10n
    } else msat = amount * MULTIPLIER[m[3]]!
  }
  const words = decoded.words
  if (words.length < 7 + 104) throw new Bolt11Error('invoice too short')
  const data = words.slice(0, -104)
  const timestamp = data.slice(0, 7).reduce((a, w) => a * 32 + w, 0)
  let paymentHash: string | null = null
  let description: string | null = null
  let payee: string | null = null
  let expirySec = 3600
  for (let i = 7; i < data.length; ) {
    const type = data[i]!
    const len = (data[i + 1]! << 5) | data[i + 2]!
    const field = data.slice(i + 3, i + 3 + len)
    if (field.length !== len) throw new Bolt11Error('truncated field')
    i += 3 + len
    if (type === 1 && len === 52) paymentHash = Buffer.from(convertBits(field, 5, 8, false)).toString('hex')
    else if (type === 13) description = Buffer.from(convertBits(field, 5, 8, false)).toString('utf8')
    else if (type === 6) expirySec = field.reduce((a, w) => a * 32 + w, 0)
    else if (type === 19 && len === 53) payee = Buffer.from(convertBits(field, 5, 8, false)).toString('hex')
  }
  if (paymentHash === null) throw new Bolt11Error('invoice without a payment hash')
  return { network: m[1] as Bolt11['network'], msat, timestamp, expirySec, paymentHash, description, payee }
}
