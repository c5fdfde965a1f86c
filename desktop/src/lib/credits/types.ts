/** Bodies of the agent's `/credits/*`, `/activation` and `/wallet/*` routes that the Credits panel reads. */

export interface CreditBalance {
  peerId: string
  balance: number
  earned: number
  spent: number
  pendingOut: number
  pendingIn: number
  creditLine: number
  available: number
  chainLength: number
}

export interface CreditHistoryEntry {
  seq: number
  hash: string
  kind: 'task' | 'chat' | 'hop' | 'transfer' | 'grant'
  direction: 'in' | 'out'
  counterparty: string
  credits: number
  state: 'settled' | 'pending' | 'expired'
  taskId: string | null
  usage: { tokens?: number; cpuMs?: number } | null
  memo: string
  at: string
}

export interface CreditHistory {
  entries: CreditHistoryEntry[]
  next: number | null
}

export interface ChainProblem {
  peerId: string
  seq: number
  code: string
  message: string
}

export interface LedgerVerifyReport {
  ok: boolean
  chains: {
    peerId: string
    held: number
    validLength: number
    valid: boolean
    complete: boolean
    balance: number
  }[]
  totals: { balances: number; grants: number }
  offenders: string[]
  problems: ChainProblem[]
}

export interface ActivationView {
  portal: string | null
  activation: { accountId: string; roles: string[]; expiresAt: number } | null
}

export interface ClaimResult {
  grants: { grantId: string; credits: number; applied: boolean; reason: string | null }[]
}

export interface WithdrawalResult {
  id: string
  credits: number
  state: 'awaiting_proposal' | 'paying' | 'paid' | 'failed'
  failure: string | null
}
