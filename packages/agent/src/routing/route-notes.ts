import { emptyResult, type TaskOutcome } from '../tasks/index.ts'
import type { ExecutorChoice } from './scoring.ts'
import { type OfferResult, short } from './task-client.ts'

/** Runner-up and left-out candidates, as reasons on the chosen hop: the route shows who was passed over and why. */
export function passedOver(choice: ExecutorChoice, max = 4): string[] {
  const runnersUp = choice.ranked.slice(1).map((s) => `passed over ${name(s.candidate)}: score ${s.score}`)
  const left = choice.excluded.map((e) => `passed over ${short(e.peerId)}: ${e.why}`)
  return [...left, ...runnersUp].slice(0, max)
}

function name(c: { peerId: string; local: boolean }): string {
  return c.local ? 'this node' : short(c.peerId)
}

/** How the stream reached the executor. */
export function relay(via: string | null): string {
  return via === null ? 'direct stream' : `through relay ${short(via)}`
}

/** The executor's verdict as the engine records it (it adds its own queue and run times). */
export function outcomeOf(r: OfferResult): TaskOutcome {
  const result = r.result ?? {
    ...emptyResult(),
    durations: { queuedMs: 0, runMs: 0, modelMs: 0, sandboxMs: 0 },
  }
  const { durations, ...rest } = result
  return {
    status: r.status === 'succeeded' ? 'succeeded' : 'failed',
    error: r.error,
    result: rest,
    modelMs: durations.modelMs,
    sandboxMs: durations.sandboxMs,
  }
}
