import type { RouteHop, RuntimeHealth, TaskRecord, TaskSpecInput } from '@edgecoder/protocol'
import { type Agent, type AgentProcess, type StartOptions, startAgent, waitFor } from './harness.ts'
import { describeTables, fullyMeshed, peersOf } from './mesh-helpers.ts'
import { getTask, submitOk, waitForStatus } from './tasks-helpers.ts'

/** Heartbeat executors keep for the submitters in these tests: a stall shows within 2.5 s. */
export const TASK_HEARTBEAT_MS = 500

/**
 * Flags of every routing test agent: loopback, the mesh tests' short advert heartbeat, short task
 * heartbeats, one task at a time on each worker (its sandbox runs one Python program at a time
 * anyway, so a slot is a real unit of capacity).
 */
export function routingArgs(mode: 'coordinator' | 'worker' | 'all-in-one', extra: string[] = []): string[] {
  return [
    '--mode',
    mode,
    '--p2p-host',
    '127.0.0.1',
    '--advert-interval-ms',
    '1000',
    '--evict-after-heartbeats',
    '3',
    '--task-heartbeat-ms',
    String(TASK_HEARTBEAT_MS),
    '--max-concurrent-tasks',
    '1',
    ...extra,
  ]
}

export function startNode(
  mode: 'coordinator' | 'worker' | 'all-in-one',
  extra: string[] = [],
  opts: Omit<StartOptions, 'args'> = {},
): Promise<AgentProcess> {
  return startAgent({ timeoutMs: 60_000, ...opts, args: routingArgs(mode, extra) })
}

/** Waits until every agent lists every other one online; fails with everyone's table. */
export async function expectMeshed(agents: Agent[], withinMs = 20_000): Promise<void> {
  await waitFor(() => fullyMeshed(agents), withinMs, 200).catch(async () => {
    // The log of whoever sees no one says why: no dial, no identify, no advert.
    const alone = await Promise.all(
      agents.map(async (a) => ((await peersOf(a).catch(() => [])).length === 0 ? a : null)),
    )
    const logs = alone
      .filter((a) => a !== null)
      .map(
        (a) => `--- ${a.ready.peerId.slice(-6)} log tail:\n${a.stderr().split('\n').slice(-40).join('\n')}`,
      )
    // A node whose event loop lags sees its peers' adverts late, and answers dials late.
    const lags = await Promise.all(
      agents.map(async (a) => {
        const text = await (await a.api('/metrics')).text().catch(() => '')
        const p99 = /^edgecoder_nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1]
        const max = /^edgecoder_nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text)?.[1]
        return `${a.ready.peerId.slice(-6)} p99 ${p99 ?? '?'} s, max ${max ?? '?'} s`
      }),
    )
    throw new Error(
      `not meshed within ${withinMs} ms:\n${await describeTables(agents)}\nevent loop lag: ${lags.join('; ')}\n${logs.join('\n')}`,
    )
  })
}

/** A Python run task that sleeps (the sandbox thread blocks, the CPU stays free) and checks a tag. */
export function sleepTask(seconds: number, tag: string, extra: Partial<TaskSpecInput> = {}): TaskSpecInput {
  return {
    kind: 'run',
    language: 'python',
    code: `import time\n\ndef work():\n    time.sleep(${seconds})\n    return ${JSON.stringify(tag)}\n`,
    tests: `assert work() == ${JSON.stringify(tag)}`,
    ...extra,
  } as TaskSpecInput
}

/** Whether the agent's Python sandbox process is up and warm, as its /health/runtime says. */
export async function pythonWarm(a: Agent): Promise<boolean> {
  const rt = (await (await a.api('/health/runtime')).json()) as RuntimeHealth
  return rt.sandbox?.processes.some((p) => p.language === 'python' && p.state === 'warm') ?? false
}

/**
 * Runs short tasks from `submitter`, one per worker at a time, until every worker's Python sandbox
 * is warm: routing spreads a round over the free workers, so a few rounds reach them all.
 */
export async function warmSandboxes(submitter: AgentProcess, workers: Agent[], maxRounds = 8): Promise<void> {
  for (let round = 0; round < maxRounds; round++) {
    const cold = (await Promise.all(workers.map(pythonWarm))).filter((w) => !w).length
    if (cold === 0) return
    const ids = await Promise.all(
      workers.map((_, i) =>
        submitOk(submitter, sleepTask(0.1, `warm${round}.${i}`, { submitter: 'warm-up' })),
      ),
    )
    for (const id of ids) {
      const t = await waitForStatus(submitter, id, undefined, 60_000)
      if (t.status !== 'succeeded') throw new Error(`warm-up task ${id} ended ${t.status}`)
    }
  }
  throw new Error(`some workers' sandboxes are still cold after ${maxRounds} rounds of warm-up tasks`)
}

/** The route steps of a task that are `event`. */
export const hops = (t: TaskRecord, event: RouteHop['event']) => t.route.filter((h) => h.event === event)

/** Waits until the task's route has a step `event` (numbered `nth`, from 1), and returns the task. */
export function awaitHop(
  agent: AgentProcess,
  id: string,
  event: RouteHop['event'],
  nth = 1,
  timeoutMs = 30_000,
): Promise<TaskRecord> {
  return waitFor(
    async () => {
      const t = await getTask(agent, id)
      return hops(t, event).length >= nth ? t : undefined
    },
    timeoutMs,
    50,
  ) as Promise<TaskRecord>
}

/** Every task on an agent (all pages). */
export async function allTasks(agent: Agent): Promise<TaskRecord[]> {
  const out: TaskRecord[] = []
  let cursor: string | null = null
  do {
    const q: string = cursor ? `&cursor=${cursor}` : ''
    const res = await agent.api(`/tasks?limit=200${q}`)
    const page = (await res.json()) as { tasks: TaskRecord[]; nextCursor: string | null }
    out.push(...page.tasks)
    cursor = page.nextCursor
  } while (cursor !== null)
  return out
}

/** Jain's fairness index of the shares: 1 when equal, 1/n when one takes everything. */
export function jain(xs: number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0)
  const squares = xs.reduce((a, b) => a + b * b, 0)
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares)
}

/** The short form of a peer id the route's reasons use. */
export const shortId = (peerId: string) => `…${peerId.slice(-8)}`
