import type { NodeRole, PeerState, PowerState, TaskSpec } from '@edgecoder/protocol'

/** A node that might run a task, as the peer table (or this node itself) describes it. */
export interface Candidate {
  peerId: string
  local: boolean
  state: PeerState
  roles: NodeRole[]
  power: PowerState
  models: string[]
  /** Task slots as last advertised (live for this node). */
  slots: { total: number; free: number }
  /** Peers' tasks waiting there for a slot, as last advertised. */
  queueDepth: number
  load: number | null
  rttMs: number | null
  region: string | null
  /** Tasks this node has placed there and not yet seen finish. */
  inflight: number
  /** Share of recent tasks it finished (rather than lost or stalled), 0 to 1. */
  successRate: number
  /** Until when it is left alone after a decline or a loss (ms since the epoch); 0 when not. */
  backoffUntil: number
}

/** What a task asks of its executor. */
export interface TaskNeeds {
  /** A model at all (code and chat tasks). */
  model: boolean
  /** This model by name (a chat that names one). */
  modelName: string | null
}

export interface ChoicePrefs {
  now: number
  /** This node's region: peers in it get a small bonus. */
  region: string | null
  /** Tasks one submitter keeps on an executor: this many times its slots. */
  parkFactor: number
  /** Ignore free slots and in-flight limits (the executor decides; used for chats). */
  ignoreCapacity?: boolean
}

export interface ScoredCandidate {
  candidate: Candidate
  score: number
  /** Why it scored as it did, for the task's route. */
  reasons: string[]
}

export interface ExecutorChoice {
  /** The best candidate with room now, if any. */
  best: ScoredCandidate | null
  /** Every candidate with room now, best first. */
  ranked: ScoredCandidate[]
  /** Candidates left out, and why. */
  excluded: { peerId: string; why: string }[]
  /** Candidates able to run the task at all, busy or not: 0 means no node in view can. */
  capable: number
}

/** What a task spec needs from the node that runs it. */
export function needsOf(spec: TaskSpec): TaskNeeds {
  if (spec.kind === 'run') return { model: false, modelName: null }
  return {
    model: true,
    modelName: spec.kind === 'chat' || spec.kind === 'embed' ? (spec.model ?? null) : null,
  }
}

/** Why a candidate can't run tasks of this kind at all, or null. */
function incapable(c: Candidate, needs: TaskNeeds): string | null {
  if (c.state === 'offline') return 'offline'
  if (!c.roles.includes('worker')) return 'runs no tasks'
  if (c.power !== 'active') return `power ${c.power}`
  if (needs.modelName !== null && !c.models.includes(needs.modelName)) return `no model ${needs.modelName}`
  if (needs.model && c.models.length === 0) return 'no model'
  return null
}

/**
 * Scores the candidates for a task. Capability is a filter (state, role, power, model); so are a
 * backoff and a full in-flight allowance. Among the rest the score weighs room (free slots less
 * what waits there), recent success, round trip, load and region; the local node wins ties.
 */
export function chooseExecutor(
  needs: TaskNeeds,
  candidates: Candidate[],
  prefs: ChoicePrefs,
): ExecutorChoice {
  const ranked: ScoredCandidate[] = []
  const excluded: ExecutorChoice['excluded'] = []
  let capable = 0
  for (const c of candidates) {
    const why = incapable(c, needs)
    if (why !== null) {
      excluded.push({ peerId: c.peerId, why })
      continue
    }
    capable++
    if (c.backoffUntil > prefs.now) {
      excluded.push({ peerId: c.peerId, why: `left alone for ${c.backoffUntil - prefs.now} ms` })
      continue
    }
    const total = Math.max(1, c.slots.total)
    const limit = c.local ? total : Math.ceil(total * prefs.parkFactor)
    if (!prefs.ignoreCapacity && c.inflight >= limit) {
      excluded.push({ peerId: c.peerId, why: `full: ${c.inflight} of ${limit} tasks from here` })
      continue
    }
    ranked.push(score(c, needs, prefs))
  }
  ranked.sort(
    (a, b) =>
      b.score - a.score ||
      Number(b.candidate.local) - Number(a.candidate.local) ||
      (a.candidate.peerId < b.candidate.peerId ? -1 : 1),
  )
  return { best: ranked[0] ?? null, ranked, excluded, capable }
}

function score(c: Candidate, needs: TaskNeeds, prefs: ChoicePrefs): ScoredCandidate {
  const total = Math.max(1, c.slots.total)
  // The advert may predate our latest placements there: take the busier of the two views.
  const busy = Math.max(total - c.slots.free, Math.min(total, c.inflight))
  const free = Math.max(0, total - busy)
  const waiting = Math.max(c.queueDepth, c.inflight - total, 0)
  const room = (free - waiting) / total
  const rtt = c.local ? 0 : (c.rttMs ?? 50)
  const load = Math.min(2, Math.max(0, c.load ?? 0))
  const sameRegion = prefs.region !== null && c.region === prefs.region
  const value =
    2 * room + c.successRate - rtt / (rtt + 20) - 0.25 * load + (sameRegion ? 0.25 : 0) + (c.local ? 0.05 : 0)
  const reasons = [
    c.local ? 'this node' : `peer ${c.state}`,
    `free ${free}/${total}`,
    `waiting ${waiting}`,
    c.local ? 'no network hop' : `rtt ${c.rttMs === null ? 'unknown' : `${round(c.rttMs)} ms`}`,
    `success ${Math.round(c.successRate * 100)}%`,
    `load ${round(load)}`,
  ]
  if (needs.modelName !== null) reasons.push(`has ${needs.modelName}`)
  else if (needs.model) reasons.push(`has a model (${c.models[0]})`)
  if (sameRegion) reasons.push(`same region ${prefs.region}`)
  return { candidate: c, score: round(value), reasons }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}
