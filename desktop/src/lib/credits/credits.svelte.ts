import type { AgentApi } from '../api.ts'
import type {
  ActivationView,
  ClaimResult,
  CreditBalance,
  CreditHistoryEntry,
  LedgerVerifyReport,
  WithdrawalResult,
} from './types.ts'

const PAGE = 50

/** What the Credits & Wallet panel shows, read from the agent; each part loads and fails on its own. */
export class CreditsView {
  balance = $state<CreditBalance | null>(null)
  entries = $state<CreditHistoryEntry[]>([])
  next = $state<number | null>(null)
  historyLoaded = $state(false)
  verify = $state<LedgerVerifyReport | null>(null)
  verifying = $state(false)
  activation = $state<ActivationView | null>(null)
  error = $state<string | null>(null)
  loadingOlder = $state(false)
  /** When the figures were last read, for the chart's right edge. */
  readAt = $state(Date.now())

  readonly #api: () => AgentApi

  /** `api` is read on each call: the shell may hand the connection a new agent address. */
  constructor(api: () => AgentApi) {
    this.#api = api
  }

  get api(): AgentApi {
    return this.#api()
  }

  /** Balance and the newest page of history (older pages already loaded are kept). */
  async refresh(): Promise<void> {
    try {
      const [balance, history] = await Promise.all([
        this.api.request<CreditBalance>('GET', '/credits/balance'),
        this.api.request<{ entries: CreditHistoryEntry[]; next: number | null }>(
          'GET',
          `/credits/history?limit=${PAGE}`,
        ),
      ])
      const fresh = new Set(history.entries.map((e) => e.seq))
      const older = this.entries.filter(
        (e) => !fresh.has(e.seq) && e.seq < (history.entries.at(-1)?.seq ?? 0),
      )
      this.entries = [...history.entries, ...older]
      if (older.length === 0) this.next = history.next
      this.balance = balance
      this.historyLoaded = true
      this.readAt = Date.now()
      this.error = null
    } catch (err) {
      this.error = (err as Error).message
    }
  }

  async loadOlder(): Promise<void> {
    if (this.next === null) return
    this.loadingOlder = true
    try {
      const page = await this.api.request<{ entries: CreditHistoryEntry[]; next: number | null }>(
        'GET',
        `/credits/history?limit=${PAGE}&before=${this.next}`,
      )
      this.entries = [...this.entries, ...page.entries]
      this.next = page.next
    } catch (err) {
      this.error = (err as Error).message
    } finally {
      this.loadingOlder = false
    }
  }

  async runVerify(): Promise<void> {
    this.verifying = true
    try {
      this.verify = await this.api.request<LedgerVerifyReport>('GET', '/credits/verify')
    } catch (err) {
      this.error = (err as Error).message
    } finally {
      this.verifying = false
    }
  }

  async loadActivation(): Promise<void> {
    try {
      this.activation = await this.api.request<ActivationView>('GET', '/activation')
    } catch (err) {
      this.error = (err as Error).message
    }
  }

  claim(): Promise<ClaimResult> {
    return this.api.request<ClaimResult>('POST', '/wallet/claim', {})
  }

  withdraw(id: string): Promise<WithdrawalResult> {
    return this.api.request<WithdrawalResult>('POST', `/wallet/withdrawals/${encodeURIComponent(id)}`, {})
  }
}
