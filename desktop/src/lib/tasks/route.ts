import type { RouteHop } from './types.ts'

/** What a route step means, in words a person reads on the timeline. */
export const HOP_WORDS: Record<RouteHop['event'], string> = {
  chosen: 'chosen',
  accepted: 'accepted',
  declined: 'declined',
  lost: 'lost',
  stalled: 'stalled',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
}

/** Steps that end an attempt badly: the task went back to the queue after them. */
export const SETBACKS: readonly RouteHop['event'][] = ['declined', 'lost', 'stalled']

/** The route's steps grouped by attempt, oldest first, for one timeline row per attempt. */
export function routeByAttempt(route: readonly RouteHop[]): { attempt: number; hops: RouteHop[] }[] {
  const out: { attempt: number; hops: RouteHop[] }[] = []
  for (const hop of route) {
    const last = out.at(-1)
    if (last && last.attempt === hop.attempt) last.hops.push(hop)
    else out.push({ attempt: hop.attempt, hops: [hop] })
  }
  return out
}
