export interface WalletOptions {
  /** Sats one credit costs, and pays out. */
  satsPerCredit: number
  depositMaxSats: number
  withdrawMaxSats: number
  /** BOLT11 network prefix accepted: bc (mainnet), tb (testnet), bcrt (regtest), tbs (signet). */
  network: 'bc' | 'tb' | 'bcrt' | 'tbs'
  /** A withdrawal needs a passkey assertion this recent. */
  reauthWindowMs: number
  feeLimitSat: number
  invoiceExpirySec: number
  /** Time a node has to send its proposal for a withdrawal. */
  ticketTtlMs: number
  /** How often open deposits and unresolved payments are checked with the Lightning node. */
  pollMs: number
}

export const DEFAULT_WALLET_OPTIONS: WalletOptions = {
  satsPerCredit: 1,
  depositMaxSats: 1_000_000,
  withdrawMaxSats: 100_000,
  network: 'bc',
  reauthWindowMs: 5 * 60_000,
  feeLimitSat: 100,
  invoiceExpirySec: 3600,
  ticketTtlMs: 5 * 60_000,
  pollMs: 2_000,
}
