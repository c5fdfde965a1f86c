import { FINAL_STATUSES, type MeshStats, type RuntimeHealth, type TaskRecord } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildSeedImage,
  type ContainerAgent,
  cleanupContainers,
  startContainerAgent,
} from './deploy/seed-container.ts'
import { type Agent, type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { peersOf, tcpAddr } from './mesh-helpers.ts'
import { allTasks, expectMeshed, hops, jain, sleepTask, startNode } from './routing-helpers.ts'

/**
 * Tier 3 at the size two cores hold in CI: a seed, five submitters sending at once, and workers;
 * the seed is killed mid-run and comes back. Containers of the seed node's image are part of the
 * mix: the seed itself (killed with `docker kill`, back on its volume) and two of the submitters;
 * the workers are processes (why: bench/scale.md). `EDGECODER_SCALE_AGENTS` and
 * `EDGECODER_SCALE_TASKS` (per submitter) run it larger (bench/scale.md gives the full size).
 */
const AGENTS = Number(process.env.EDGECODER_SCALE_AGENTS ?? 14)
const SUBMITTERS = 5
/** Submitters that run in containers; the rest are processes. */
const CONTAINER_SUBMITTERS = 2
const TASKS_PER_SUBMITTER = Number(process.env.EDGECODER_SCALE_TASKS ?? 40)
const TOTAL = SUBMITTERS * TASKS_PER_SUBMITTER
/** How long an agent may be without a single online peer once the mesh has formed. */
const MAX_ALONE_MS = 5_000
/** From the restarted seed's first answer to its first online peer. */
const MAX_REJOIN_MS = 20_000
const FINAL: readonly string[] = FINAL_STATUSES
/**
 * The default task heartbeat (the routing tests' 500 ms calls a loaded core's pause a stall), and
 * adverts every 2 s rather than 1 s: with 14 agents on two shared cores, a 2 s pause of one of
 * them would otherwise mark it offline in every table (offline after two silent heartbeats).
 */
const HEARTBEAT = ['--task-heartbeat-ms', '2000', '--advert-interval-ms', '2000']
/** Start-up waits for the ready line; on two cores shared with other suites it can take a minute. */
const START = { timeoutMs: 180_000 }

/**
 * A container's flags, those of the processes (routing-helpers' `routingArgs`). Containers
 * coordinate: the image has no confined sandbox (no bubblewrap, and Docker's seccomp profile
 * forbids the user namespaces it needs), so the agent there refuses peers' code anyway.
 */
const CONTAINER_ARGS = [
  '--mode',
  'coordinator',
  '--evict-after-heartbeats',
  '3',
  '--max-concurrent-tasks',
  '1',
  ...HEARTBEAT,
]
/** The seed also relays for whoever needs it. */
const SEED_ARGS = [...CONTAINER_ARGS, '--relay-service', 'on']

beforeAll(async () => {
  const ms = await buildSeedImage()
  console.log(
    `scale: seed image built in ${Math.round(ms / 1000)} s (Docker's cache when the image tests ran before)`,
  )
}, 1_200_000)

afterAll(async () => {
  await cleanupAgents()
  await cleanupContainers()
})

/** Records, per agent, the longest stretch it saw no online peer, and what it looked like then. */
function lonelinessMonitor(agents: () => Agent[]) {
  const aloneSince = new Map<Agent, number>()
  const worst = new Map<Agent, number>()
  /** Per agent, its own view and the others' scores of it when its longest stretch began. */
  const seen = new Map<Agent, string>()
  const pending = new Map<Agent, string>()
  let running = true
  const snapshot = async (a: Agent, at: number): Promise<string> => {
    const [stats, peers] = await Promise.all([
      a.api('/mesh/stats').then((r) => r.json() as Promise<MeshStats>),
      peersOf(a),
    ])
    const others = await Promise.all(
      agents()
        .filter((b) => b !== a)
        .map((b) =>
          b
            .api('/mesh/stats')
            .then((r) => r.json() as Promise<MeshStats>)
            .then((st) => st.scores[a.ready.peerId]?.toFixed(1) ?? 'not connected')
            .catch(() => 'no answer'),
        ),
    )
    const states = peers.map((p) => `${p.state}/${p.connection ?? 'none'}`).join(' ')
    return `alone from ${new Date(at).toISOString()}: ${stats.connections} connections, ${stats.topicPeers} topic peers, ${stats.meshPeers} mesh peers, adverts ${JSON.stringify(stats.adverts)}; its table: ${states}; the others' scores of it: ${others.join(' ')}`
  }
  const loop = (async () => {
    while (running) {
      const now = Date.now()
      await Promise.all(
        agents().map(async (a) => {
          const rt = (await (await a.api('/health/runtime')).json().catch(() => null)) as RuntimeHealth | null
          if (rt === null) return // restarting
          if (rt.peers.online > 0) {
            aloneSince.delete(a)
            return
          }
          if (!aloneSince.has(a)) {
            aloneSince.set(a, now)
            pending.set(a, await snapshot(a, now).catch((e) => `no snapshot: ${(e as Error).message}`))
          }
          const length = now - aloneSince.get(a)!
          if (length >= (worst.get(a) ?? 0)) {
            worst.set(a, length)
            seen.set(a, pending.get(a)!)
          }
        }),
      ).catch(() => {})
      await new Promise((r) => setTimeout(r, 250))
    }
  })()
  return {
    worst,
    seen,
    stop: async () => {
      running = false
      await loop
    },
  }
}

describe(`${AGENTS} agents, ${SUBMITTERS} submitters, ${TOTAL} tasks, the seed going down`, () => {
  it('runs every task exactly once with fair shares, and the seed re-syncs when it returns', async () => {
    const t0 = Date.now()
    const seed = await startContainerAgent({ args: SEED_ARGS, ...START })
    const boot = (a: Agent) => ['--bootstrap', tcpAddr(a)]
    // Started a few at a time (two cores): submitters first, then workers, some through a worker.
    const containerSubmitters = await Promise.all(
      Array.from({ length: CONTAINER_SUBMITTERS }, () =>
        startContainerAgent({ args: [...CONTAINER_ARGS, ...boot(seed)], ...START }),
      ),
    )
    const submitters: Agent[] = [...containerSubmitters]
    const workers: AgentProcess[] = []
    for (let i = CONTAINER_SUBMITTERS; i < SUBMITTERS; i += 3) {
      const n = Math.min(3, SUBMITTERS - i)
      submitters.push(
        ...(await Promise.all(
          Array.from({ length: n }, () => startNode('coordinator', [...HEARTBEAT, ...boot(seed)], START)),
        )),
      )
    }
    const workerCount = AGENTS - 1 - SUBMITTERS
    for (let i = 0; i < workerCount; i += 3) {
      const n = Math.min(3, workerCount - i)
      const via = i === 0 || workers.length === 0 ? seed : workers[i % workers.length]!
      workers.push(
        ...(await Promise.all(
          Array.from({ length: n }, () => startNode('worker', [...HEARTBEAT, ...boot(via)], START)),
        )),
      )
    }
    let seedNow: Agent = seed
    const everyone = (): Agent[] => [seedNow, ...submitters, ...workers]
    const startedMs = Date.now() - t0
    await expectMeshed(everyone(), 90_000)
    console.log(
      `scale: ${AGENTS} agents started in ${startedMs} ms, meshed ${Date.now() - t0 - startedMs} ms later`,
    )
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
    await seed.stop('SIGKILL')
    seedNow = workers[0]! // the monitor watches the living meanwhile
    await waitFor(async () => (await total()) >= TOTAL * 0.7, 300_000, 200)
    // A new container on the seed's volume and ports: the same node, found again through a worker.
    const seedBack: ContainerAgent = await startContainerAgent({
      args: [...SEED_ARGS, ...boot(workers[1]!)],
      volume: seed.volume,
      apiPort: seed.apiPort,
      p2pPort: seed.p2pPort,
      ...START,
    })
    expect(seedBack.ready.peerId).toBe(seed.ready.peerId)
    seedNow = seedBack
    await waitFor(async () => (await finished()) === TOTAL, 300_000, 250)
    const elapsed = Date.now() - started
    // The seed, back on its data dir, knows the whole mesh again.
    await expectMeshed(everyone(), 60_000)
    await monitor.stop()

    const tasks = (await Promise.all(submitters.map(allTasks))).flat().filter((t) => ids.has(t.id))
    expect(tasks).toHaveLength(TOTAL)
    // Per submitter (the first ones are containers), how many did not succeed: the failure says whose.
    const failedBy = submitters.map((_, k) =>
      tasks.filter((t) => ids.get(t.id) === k && t.status !== 'succeeded'),
    )
    for (const t of tasks) {
      const k = ids.get(t.id)!
      const who = `submitter ${k} (${k < CONTAINER_SUBMITTERS ? 'container' : 'process'}); not succeeded per submitter: ${failedBy.map((f) => f.length).join('/')}`
      expect(t.status, `${who}\n${JSON.stringify({ error: t.error, route: t.route })}`).toBe('succeeded')
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
    // A node that has just restarted has no peers until it rejoins: that is its rejoin time,
    // bounded on its own; every other node must never be left alone for long.
    const rejoinMs = monitor.worst.get(seedBack) ?? 0
    const lonely = [...monitor.worst].filter(([a]) => a !== seedBack).sort((x, y) => y[1] - x[1])
    const loneliest = lonely[0]?.[1] ?? 0
    const named = (a: Agent) =>
      `${a.ready.peerId.slice(-6)} (${submitters.includes(a) ? 'submitter' : (workers as Agent[]).includes(a) ? 'worker' : 'seed'})`
    // Gossip's behaviour penalties (P7) given during the run, all nodes together: a node that
    // stalls breaks promises to many peers at once.
    const penalties: Record<string, number> = {}
    for (const a of everyone()) {
      const st = (await (await a.api('/mesh/stats')).json()) as MeshStats
      for (const [kind, n] of Object.entries(st.gossip.penalties ?? {}))
        penalties[kind] = (penalties[kind] ?? 0) + n
    }
    const aloneText =
      lonely.length === 0
        ? 'never'
        : lonely
            .slice(0, 3)
            .map(([a, ms]) => `${ms} ms ${named(a)}`)
            .join(', ')
    console.log(
      `scale: ${AGENTS} agents, ${TOTAL} tasks in ${elapsed} ms (${((TOTAL * 1000) / elapsed).toFixed(1)}/s); ` +
        `shares at 40 %: ${shares.join('/')} (Jain ${fairness.toFixed(3)}); longest alone ${aloneText}; seed rejoined ${rejoinMs} ms after its restart; gossip penalties ${JSON.stringify(penalties)}; ` +
        `reruns ${tasks.filter((t: TaskRecord) => t.runs > 1).length}; succeeded twice on executors after a stall or loss ${doubles.length}`,
    )
    // The containers took part: every process lists them online, and the container submitters'
    // tasks all ran, on the workers.
    const containerIds = [seedBack, ...containerSubmitters].map((c) => c.ready.peerId)
    for (const a of [...submitters.slice(CONTAINER_SUBMITTERS), ...workers]) {
      const online = (await peersOf(a)).filter((p) => p.state === 'online').map((p) => p.peerId)
      expect(online).toEqual(expect.arrayContaining(containerIds))
    }
    const workerIds = workers.map((w) => w.ready.peerId)
    for (let k = 0; k < CONTAINER_SUBMITTERS; k++) {
      const own = tasks.filter((t) => ids.get(t.id) === k)
      expect(own).toHaveLength(TASKS_PER_SUBMITTER)
      for (const t of own) {
        expect(t.status).toBe('succeeded')
        expect(workerIds).toContain(t.executor?.peerId)
      }
    }
    expect(unexplained).toEqual([])
    expect(fairness).toBeGreaterThanOrEqual(0.9)
    expect(
      loneliest,
      lonely[0] ? `${named(lonely[0][0])} ${monitor.seen.get(lonely[0][0])}` : '',
    ).toBeLessThan(MAX_ALONE_MS)
    expect(rejoinMs).toBeLessThan(MAX_REJOIN_MS)
  }, 900_000)
})
