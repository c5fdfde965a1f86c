import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { bech32Encode, convertBits, decodeBolt11 } from '../../src/lightning/index.ts'

/**
 * A DOUBLE of LND's REST API (not a Lightning node): the endpoints the portal uses, with LND's
 * documented request and response shapes, the macaroon header, and real state. Invoices it
 * issues settle only when a test says a payment arrived (`arrive`); payments it makes succeed
 * only against invoices it knows of and a channel balance that covers them. Its BOLT11 strings
 * are well-formed (bech32, tagged fields, a secp256k1 signature); unlike LND it does not check
 * signatures of invoices it decodes. LND and btcd in regtest are too heavy to build in CI here.
 */
export class LndDouble {
  readonly macaroonHex = randomBytes(32).toString('hex')
  balanceSat: number
  /** Outgoing payments wait here (IN_FLIGHT) until `release()`. */
  hold = false
  /** The next send records its payment, then cuts the connection before answering (a crash in the middle). */
  dropNextSendResponse = false
  readonly invoices = new Map<
    string,
    {
      request: string
      valueSat: number
      state: 'OPEN' | 'SETTLED' | 'CANCELED'
      paidSat: number
      memo: string
    }
  >()
  readonly payable = new Map<string, { request: string; valueSat: number }>()
  readonly payments = new Map<
    string,
    { status: 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED'; valueSat: number; preimage: string; failure: string }
  >()
  readonly #key = generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  readonly #server: Server
  readonly #held: (() => void)[] = []
  url = ''

  constructor(balanceSat = 1_000_000) {
    this.balanceSat = balanceSat
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((err) => send(res, 500, { code: 2, message: String(err), details: [] }))
    })
  }

  async start(): Promise<string> {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    const a = this.#server.address()
    this.url = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`
    return this.url
  }

  async stop(): Promise<void> {
    this.release()
    this.#server.closeAllConnections()
    await new Promise<void>((r) => this.#server.close(() => r()))
  }

  /** A payment for one of this node's invoices arrived (what a payer's wallet would cause). */
  arrive(paymentRequest: string): void {
    const hash = decodeBolt11(paymentRequest).paymentHash
    const inv = this.invoices.get(hash)
    if (inv?.state !== 'OPEN') throw new Error('no open invoice for this payment')
    inv.state = 'SETTLED'
    inv.paidSat = inv.valueSat
    this.balanceSat += inv.valueSat
  }

  /** An invoice from someone else's wallet that this node can pay (a user's withdrawal invoice). */
  externalInvoice(sats: number, expirySec = 3600): string {
    const { request, hash } = this.#encode(sats, 'withdrawal', expirySec)
    this.payable.set(hash, { request, valueSat: sats })
    return request
  }

  release(): void {
    for (const r of this.#held.splice(0)) r()
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers['grpc-metadata-macaroon'] !== this.macaroonHex) {
      return send(res, 500, {
        code: 2,
        message: 'verification failed: signature mismatch after caveat verification',
        details: [],
      })
    }
    const url = new URL(req.url ?? '/', 'http://x')
    const body = req.method === 'POST' ? JSON.parse((await text(req)) || '{}') : {}
    if (req.method === 'POST' && url.pathname === '/v1/invoices') {
      const value = Number(body.value ?? 0)
      const { request, hash } = this.#encode(value, String(body.memo ?? ''), Number(body.expiry ?? 86400))
      this.invoices.set(hash, {
        request,
        valueSat: value,
        state: 'OPEN',
        paidSat: 0,
        memo: String(body.memo ?? ''),
      })
      return send(res, 200, {
        r_hash: Buffer.from(hash, 'hex').toString('base64'),
        payment_request: request,
        add_index: String(this.invoices.size),
        payment_addr: randomBytes(32).toString('base64'),
      })
    }
    let m = /^\/v1\/invoice\/([0-9a-f]{64})$/.exec(url.pathname)
    if (req.method === 'GET' && m) {
      const inv = this.invoices.get(m[1]!)
      if (!inv) return send(res, 404, { code: 5, message: 'there are no existing invoices', details: [] })
      return send(res, 200, {
        memo: inv.memo,
        r_hash: Buffer.from(m[1]!, 'hex').toString('base64'),
        value: String(inv.valueSat),
        settled: inv.state === 'SETTLED',
        state: inv.state,
        amt_paid_sat: String(inv.paidSat),
        payment_request: inv.request,
      })
    }
    m = /^\/v1\/payreq\/(.+)$/.exec(url.pathname)
    if (req.method === 'GET' && m) {
      let d: ReturnType<typeof decodeBolt11>
      try {
        d = decodeBolt11(decodeURIComponent(m[1]!))
      } catch (err) {
        return send(res, 500, {
          code: 2,
          message: `invalid payment request: ${(err as Error).message}`,
          details: [],
        })
      }
      return send(res, 200, {
        destination: d.payee ?? this.#pubkey(),
        payment_hash: d.paymentHash,
        num_satoshis: String(Number((d.msat ?? 0n) / 1000n)),
        num_msat: String(d.msat ?? 0n),
        timestamp: String(d.timestamp),
        expiry: String(d.expirySec),
        description: d.description ?? '',
      })
    }
    if (req.method === 'POST' && url.pathname === '/v2/router/send')
      return this.#send(String(body.payment_request ?? ''), res)
    if (req.method === 'GET' && url.pathname === '/v1/payments') {
      return send(res, 200, {
        payments: [...this.payments].map(([hash, p]) => payment(hash, p)),
        first_index_offset: '0',
        last_index_offset: String(this.payments.size),
      })
    }
    return send(res, 404, { code: 5, message: 'Not Found', details: [] })
  }

  async #send(request: string, res: ServerResponse): Promise<void> {
    const hash = decodeBolt11(request).paymentHash
    const target = this.payable.get(hash)
    if (this.payments.get(hash)?.status === 'SUCCEEDED') {
      return stream(res, { error: { code: 6, message: 'invoice is already paid', details: [] } })
    }
    const p = {
      status: 'IN_FLIGHT' as 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED',
      valueSat: target?.valueSat ?? 0,
      preimage: '',
      failure: 'FAILURE_REASON_NONE',
    }
    this.payments.set(hash, p)
    if (this.hold) await new Promise<void>((r) => this.#held.push(r))
    if (!target) {
      p.status = 'FAILED'
      p.failure = 'FAILURE_REASON_NO_ROUTE'
    } else if (this.balanceSat < target.valueSat) {
      p.status = 'FAILED'
      p.failure = 'FAILURE_REASON_INSUFFICIENT_BALANCE'
    } else {
      this.balanceSat -= target.valueSat
      p.status = 'SUCCEEDED'
      p.preimage = randomBytes(32).toString('hex')
    }
    if (this.dropNextSendResponse) {
      this.dropNextSendResponse = false
      res.socket?.destroy()
      return
    }
    if (res.destroyed) return
    stream(res, { result: payment(hash, p) })
  }

  #pubkey(): string {
    const jwk = this.#key.publicKey.export({ format: 'jwk' })
    const y = Buffer.from(jwk.y!, 'base64url')
    return Buffer.concat([
      Buffer.from([(y[31]! & 1) === 0 ? 2 : 3]),
      Buffer.from(jwk.x!, 'base64url'),
    ]).toString('hex')
  }

  /** A regtest BOLT11 invoice for `sats`, signed by this node's key. */
  #encode(sats: number, memo: string, expirySec: number): { request: string; hash: string } {
    const preimage = randomBytes(32)
    const hash = createHash('sha256').update(preimage).digest('hex')
    const hrp = `lnbcrt${sats * 10}n`
    const ts = Math.floor(Date.now() / 1000)
    const words: number[] = []
    for (let i = 6; i >= 0; i--) words.push(Math.floor(ts / 32 ** i) % 32)
    const tag = (type: number, data: number[]) =>
      words.push(type, data.length >> 5, data.length & 31, ...data)
    tag(1, convertBits(Buffer.from(hash, 'hex'), 8, 5, true))
    tag(16, convertBits(randomBytes(32), 8, 5, true))
    tag(13, convertBits(Buffer.from(memo, 'utf8'), 8, 5, true))
    const exp: number[] = []
    for (let v = expirySec; v > 0; v = Math.floor(v / 32)) exp.unshift(v % 32)
    tag(6, exp.length ? exp : [0])
    const signed = Buffer.concat([Buffer.from(hrp, 'utf8'), Buffer.from(convertBits(words, 5, 8, true))])
    const sig = sign('sha256', signed, { key: this.#key.privateKey, dsaEncoding: 'ieee-p1363' })
    words.push(...convertBits(Buffer.concat([sig, Buffer.from([0])]), 8, 5, true))
    return { request: bech32Encode(hrp, words), hash }
  }
}

function payment(hash: string, p: { status: string; valueSat: number; preimage: string; failure: string }) {
  return {
    payment_hash: hash,
    value_sat: String(p.valueSat),
    status: p.status,
    payment_preimage: p.preimage,
    fee_sat: '0',
    failure_reason: p.failure,
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** LND's REST gateway writes server streams as one JSON object per line. */
function stream(res: ServerResponse, msg: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(`${JSON.stringify(msg)}\n`)
}

async function text(req: IncomingMessage): Promise<string> {
  let s = ''
  for await (const chunk of req) s += chunk
  return s
}
