/** How routing behaves; `routingOptions()` fills in the defaults. */
export interface RoutingOptions {
  /** How often an executor reports on a task it holds; the submitter asks for this in each offer. */
  heartbeatMs: number
  /** Heartbeats an executor may miss before the submitter calls the task stalled and reruns it. */
  stallAfterHeartbeats: number
  /** How long an offer stays valid (at most `TASK_OFFER_MAX_TTL_MS`). */
  offerTtlMs: number
  /** How long an executor may take to open a stream and answer an offer. */
  answerTimeoutMs: number
  /** Offers dated further ahead than this are refused: the sender's clock is off or it lies. */
  maxClockSkewMs: number
  /** Tasks a submitter keeps on one executor: this many times its slots (running and waiting there). */
  parkFactor: number
  /** How long a peer that declined (busy, paused) is left alone, unless it says how long itself. */
  declineBackoffMs: number
  /** How long a peer that lost or stalled a task is left alone. */
  lostBackoffMs: number
  /** How long a cancelled task's executor has to confirm before the stream is dropped. */
  cancelGraceMs: number
  /** Peers a chat request tries, one after another, before it fails. */
  chatTries: number
  /** Tokens a chat routed to a peer may generate when the request sets no limit. */
  chatMaxTokens: number
}

export const ROUTING_DEFAULTS: RoutingOptions = {
  heartbeatMs: 2_000,
  stallAfterHeartbeats: 3,
  offerTtlMs: 30_000,
  answerTimeoutMs: 10_000,
  maxClockSkewMs: 30_000,
  parkFactor: 2,
  declineBackoffMs: 1_000,
  lostBackoffMs: 15_000,
  cancelGraceMs: 3_000,
  chatTries: 3,
  chatMaxTokens: 1_024,
}

export function routingOptions(partial: Partial<RoutingOptions> = {}): RoutingOptions {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined))
  return { ...ROUTING_DEFAULTS, ...defined }
}

/** Silence after which a task counts as stalled: the missed heartbeats plus a second for the network. */
export function stallAfterMs(o: Pick<RoutingOptions, 'heartbeatMs' | 'stallAfterHeartbeats'>): number {
  return o.heartbeatMs * o.stallAfterHeartbeats + 1_000
}
