import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { type Lightning, LightningError, type PaymentOutcome } from './lightning.ts'

export interface LndRestOptions {
  /** e.g. https://127.0.0.1:8080 */
  url: string
  /** Hex of the macaroon file (admin or a baked one with invoices + offchain rights). */
  macaroonHex: string
  /** PEM of LND's self-signed TLS certificate; null: the system's CAs. */
  tlsCertPem: string | null
}

interface LndPayment {
  payment_hash: string
  status: 'UNKNOWN' | 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED' | 'INITIATED'
  payment_preimage?: string
  fee_sat?: string
  failure_reason?: string
}

/** LND's REST API (lnd 0.18+): invoices, decodepayreq, router send, payment list. */
export class LndRest implements Lightning {
  readonly #opts: LndRestOptions

  constructor(opts: LndRestOptions) {
    this.#opts = opts
  }

  async createInvoice(sats: number, memo: string, expirySec: number) {
    const r = (await this.#call('POST', '/v1/invoices', {
      value: String(sats),
      memo,
      expiry: String(expirySec),
    })) as {
      r_hash: string
      payment_request: string
    }
    return { paymentHash: Buffer.from(r.r_hash, 'base64').toString('hex'), paymentRequest: r.payment_request }
  }

  async invoiceState(paymentHash: string) {
    const r = (await this.#call('GET', `/v1/invoice/${hex(paymentHash)}`)) as {
      state: string
      amt_paid_sat?: string
    }
    const state = r.state === 'SETTLED' ? 'settled' : r.state === 'CANCELED' ? 'canceled' : 'open'
    return { state, paidSats: Number(r.amt_paid_sat ?? 0) } as const
  }

  async decode(paymentRequest: string) {
    const r = (await this.#call('GET', `/v1/payreq/${encodeURIComponent(paymentRequest)}`)) as {
      payment_hash: string
      num_satoshis: string
      timestamp: string
      expiry: string
      destination: string
    }
    return {
      paymentHash: r.payment_hash,
      sats: Number(r.num_satoshis),
      expiresAt: (Number(r.timestamp) + Number(r.expiry)) * 1000,
      destination: r.destination,
    }
  }

  async pay(
    paymentRequest: string,
    opts: { feeLimitSat: number; timeoutSec: number },
  ): Promise<PaymentOutcome> {
    // A server stream: one JSON object per line, each {"result": Payment}; the last is final.
    const lines = (await this.#call(
      'POST',
      '/v2/router/send',
      {
        payment_request: paymentRequest,
        timeout_seconds: opts.timeoutSec,
        fee_limit_sat: String(opts.feeLimitSat),
        no_inflight_updates: true,
      },
      true,
    )) as string
    let last: LndPayment | null = null
    for (const line of lines.split('\n')) {
      if (!line.trim()) continue
      const msg = JSON.parse(line) as { result?: LndPayment; error?: { message: string } }
      if (msg.error) return { status: 'failed', reason: msg.error.message }
      if (msg.result) last = msg.result
    }
    return last === null ? { status: 'unknown' } : outcome(last)
  }

  async paymentState(paymentHash: string): Promise<PaymentOutcome> {
    const r = (await this.#call(
      'GET',
      '/v1/payments?include_incomplete=true&reversed=true&max_payments=1000',
    )) as {
      payments: LndPayment[]
    }
    const p = r.payments.filter((x) => x.payment_hash === hex(paymentHash)).at(-1)
    return p === undefined ? { status: 'unknown' } : outcome(p)
  }

  #call(method: string, path: string, body?: unknown, stream = false): Promise<unknown> {
    const url = new URL(path, this.#opts.url)
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers: {
            'Grpc-Metadata-macaroon': this.#opts.macaroonHex,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          ...(this.#opts.tlsCertPem ? { ca: this.#opts.tlsCertPem } : {}),
          timeout: 120_000,
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => {
            text += d
            if (text.length > 4 * 1024 * 1024) req.destroy(new LightningError('LND answered too much'))
          })
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 400) {
              let message = text.slice(0, 300)
              try {
                message = (JSON.parse(text) as { message?: string }).message ?? message
              } catch {}
              return reject(new LightningError(`LND ${method} ${url.pathname}: ${res.statusCode} ${message}`))
            }
            try {
              resolve(stream ? text : JSON.parse(text))
            } catch {
              reject(new LightningError(`LND ${method} ${url.pathname}: not JSON`))
            }
          })
        },
      )
      req.on('timeout', () => req.destroy(new LightningError('LND did not answer in time')))
      req.on('error', (err) =>
        reject(err instanceof LightningError ? err : new LightningError(`LND unreachable: ${err.message}`)),
      )
      req.end(payload)
    })
  }
}

const hex = (h: string) => {
  if (!/^[0-9a-f]{64}$/.test(h)) throw new LightningError('a payment hash is 64 hex digits')
  return h
}

function outcome(p: LndPayment): PaymentOutcome {
  if (p.status === 'SUCCEEDED')
    return { status: 'succeeded', preimage: p.payment_preimage ?? '', feeSat: Number(p.fee_sat ?? 0) }
  if (p.status === 'FAILED') return { status: 'failed', reason: p.failure_reason ?? 'FAILURE_REASON_NONE' }
  return { status: 'in_flight' }
}
