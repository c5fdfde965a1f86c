import { FINAL_STATUSES, type RuntimeHealth, type TaskRecord } from '@edgecoder/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { tcpAddr } from './mesh-helpers.ts'
import { allTasks, expectMeshed, hops, jain, sleepTask, startNode } from './routing-helpers.ts'

/**
 * Tier 3 at the size two cores hold in CI: a seed, five submitters sending at once, and workers;
 * the seed is killed mid-run and comes back. `EDGECODER_SCALE_AGENTS` and
 * `EDGECODER_SCALE_TASKS` (per submitter) run it larger (bench/scale.md gives the full size).
 */
const AGENTS = Number(process.env.EDGECODER_SCALE_AGENTS ?? 14)
const SUBMITTERS = 5
const TASKS_PER_SUBMITTER = Number(process.env.EDGECODER_SCALE_TASKS ?? 40)
const TOTAL = SUBMITTERS * TASKS_PER_SUBMITTER
/** How long an agent may be without a single online peer once the mesh has formed. */
const MAX_ALONE_MS = 5_000
const FINAL: readonly string[] = FINAL_STATUSES
/** The default task heartbeat (the routing tests' 500 ms calls a loaded core's pause a stall). */
const HEARTBEAT = ['--task-heartbeat-ms', '2000']

afterAll(cleanupAgents)

/** Records, per agent, the longest stretch it saw no online peer. */
function lonelinessMonitor(agents: () => AgentProcess[]) {
  const aloneSince = new Map<AgentProcess, number>()
  const worst = new Map<AgentProcess, number>()
  let running = true
  const loop = (async () => {
    while (running) {
      const now = Date.now()
      await Promise.all(
        agents().map(async (a) => {
          const rt = (await (await a.api('/health/runtime')).json().catch(() => null)) as RuntimeHealth | null
          if (rt === null) return // restarting
          if (rt.peers.online > 0) aloneSince.delete(a)
          else if (!aloneSince.has(a)) aloneSince.set(a, now)
          const since = aloneSince.get(a)
          if (since !== undefined) worst.set(a, Math.max(worst.get(a) ?? 0, now - since))
        }),
      ).catch(() => {})
      await new Promise((r) => setTimeout(r, 250))
    }
  })()
  return {
    worst,
    stop: async () => {
      running = false
      await loop
    },
  }
}

describe(`${AGENTS} agents, ${SUBMITTERS} submitters, ${TOTAL} tasks, the seed going down`, () => {
  it('runs every task exactly once with fair shares, and the seed re-syncs when it returns', async () => {
    const seed = await startNode('worker', ['--relay-service', 'on', ...HEARTBEAT])
    const boot = (a: AgentProcess) => ['--bootstrap', tcpAddr(a)]
    const submitters: AgentProcess[] = []
    const workers: AgentProcess[] = []
    // Started a few at a time (two cores): submitters first, then workers, some through a worker.
    for (let i = 0; i < SUBMITTERS; i += 3) {
      const n = Math.min(3, SUBMITTERS - i)
      submitters.push(
        ...(await Promise.all(
          Array.from({ length: n }, () => startNode('coordinator', [...HEARTBEAT, ...boot(seed)])),
        )),
      )
    }
    const workerCount = AGENTS - 1 - SUBMITTERS
    for (let i = 0; i < workerCount; i += 3) {
      const n = Math.min(3, workerCount - i)
      const via = i === 0 || workers.length === 0 ? seed : workers[i % workers.length]!
      workers.push(
        ...(await Promise.all(
          Array.from({ length: n }, () => startNode('worker', [...HEARTBEAT, ...boot(via)])),
        )),
      )
    }
    let seedNow = seed
    const everyone = () => [seedNow, ...submitters, ...workers]
    await expectMeshed(everyone(), 90_000)
    const monitor = lonelinessMonitor(everyone)

    const started = Date.now()
    const ids = new Map<string, number>() // task id -> submitter index
    await Promise.all(
      submitters.map(async (s, k) => {
        for (let i = 0; i < TASKS_PER_SUBMITTER; i++) {
          const res = await s.api('/tasks', {
            method: 'POST',
            json: { ...sleepTask(0.2, `s${k}t${i}`), submitter: `team-${k}` },
          })
          expect(res.status, await res.clone().text()).toBe(202)
          ids.set(((await res.json()) as { id: string }).id, k)
        }
      }),
    )
    const doneBy = async () => {
      const per = await Promise.all(
        submitters.map(async (s) => (await allTasks(s)).filter((t) => t.status === 'succeeded').length),
      )
      return per
    }
    const total = async () => (await doneBy()).reduce((a, b) => a + b, 0)
    const finished = async () =>
      (await Promise.all(submitters.map(allTasks)))
        .flat()
        .filter((t) => ids.has(t.id) && FINAL.includes(t.status)).length

    // Halfway through, the shares are compared and the seed dies.
    await waitFor(async () => (await total()) >= TOTAL * 0.4, 300_000, 200)
    const shares = await doneBy()
    const fairness = jain(shares)
    const seedDir = seed.dataDir
    await seed.stop('SIGKILL')
    seedNow = workers[0]! // the monitor watches the living meanwhile
    await waitFor(async () => (await total()) >= TOTAL * 0.7, 300_000, 200)
    const seedBack = await startNode(
      'worker',
      ['--relay-service', 'on', ...HEARTBEAT, ...boot(workers[1]!)],
      {
        dataDir: seedDir,
      },
    )
    seedNow = seedBack
    await waitFor(async () => (await finished()) === TOTAL, 300_000, 250)
    const elapsed = Date.now() - started
    // The seed, back on its data dir, knows the whole mesh again.
    await expectMeshed(everyone(), 60_000)
    await monitor.stop()

    const tasks = (await Promise.all(submitters.map(allTasks))).flat().filter((t) => ids.has(t.id))
    expect(tasks).toHaveLength(TOTAL)
    for (const t of tasks) {
      expect(t.status, JSON.stringify({ error: t.error, report: t.result?.report, route: t.route })).toBe(
        'succeeded',
      )
      expect(hops(t, 'completed')).toHaveLength(1)
    }
    // Ran to success exactly once: no executor holds a second succeeded copy of any task.
    const wins = new Map<string, number>()
    for (const e of [seedBack, ...workers])
      for (const copy of await allTasks(e))
        if (copy.status === 'succeeded' && copy.origin !== null)
          wins.set(copy.origin.taskId, (wins.get(copy.origin.taskId) ?? 0) + 1)
    const doubles = [...wins].filter(([, n]) => n > 1)
    // A second copy may succeed only where the submitter gave up on the first (a stall or a loss
    // it recorded): that is wasted work, never a second acceptance.
    const unexplained = doubles.filter(([id]) => {
      const t = tasks.find((x) => x.id === id)!
      return hops(t, 'stalled').length + hops(t, 'lost').length === 0
    })
    const loneliest = Math.max(0, ...monitor.worst.values())
    console.log(
      `scale: ${AGENTS} agents, ${TOTAL} tasks in ${elapsed} ms (${((TOTAL * 1000) / elapsed).toFixed(1)}/s); ` +
        `shares at 40 %: ${shares.join('/')} (Jain ${fairness.toFixed(3)}); longest alone ${loneliest} ms; ` +
        `reruns ${tasks.filter((t: TaskRecord) => t.runs > 1).length}; succeeded twice on executors after a stall or loss ${doubles.length}`,
    )
    expect(unexplained).toEqual([])
    expect(fairness).toBeGreaterThanOrEqual(0.9)
    expect(loneliest).toBeLessThan(MAX_ALONE_MS)
  }, 900_000)
})
