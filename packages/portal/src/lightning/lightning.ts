/** The Lightning node as the wallet sees it; LND's REST API in production. */
export interface Lightning {
  /** A new invoice this node will receive on. */
  createInvoice(
    sats: number,
    memo: string,
    expirySec: number,
  ): Promise<{ paymentHash: string; paymentRequest: string }>
  /** The node's own record of an invoice it issued. */
  invoiceState(paymentHash: string): Promise<{ state: 'open' | 'settled' | 'canceled'; paidSats: number }>
  /** The node's decoding of someone's invoice (it checks the signature). */
  decode(
    paymentRequest: string,
  ): Promise<{ paymentHash: string; sats: number; expiresAt: number; destination: string }>
  /** Pays, waiting for the outcome (bounded by `timeoutSec`). */
  pay(paymentRequest: string, opts: { feeLimitSat: number; timeoutSec: number }): Promise<PaymentOutcome>
  /** The node's own record of an outgoing payment: what a restart trusts. */
  paymentState(paymentHash: string): Promise<PaymentOutcome>
}

export type PaymentOutcome =
  | { status: 'succeeded'; preimage: string; feeSat: number }
  | { status: 'failed'; reason: string }
  | { status: 'in_flight' }
  | { status: 'unknown' }

export class LightningError extends Error {
  override name = 'LightningError'
}
