/**
 * Mesh over the simulated WAN: N real agent processes spread over three regions (network
 * namespaces joined by scripts/e2e/wan-link.py, 50 ms one way, 20 Mbit/s per direction), the
 * measurements of bench/mesh.ts plus task throughput. Advert propagation is held against the
 * floor the network sets: for each receiver, the fewest WAN links on any path of direct
 * connections from the publisher, × the link's one-way latency.
 * Run (root): node bench/mesh-wan.ts [sizes=5,20,40] [idleSec=60] [changes=20] [tasks=60]
 * Writes its section of bench/RESULTS.md and its goal rows.
 */
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import type { MeshPeer, MeshPeerDetail, MeshStats, TaskRecord } from '@edgecoder/protocol'
import { type AgentProcess, cleanupAgents, waitFor } from '../tests/e2e/harness.ts'
import { NetLab, type NsAgent } from '../tests/e2e/netns.ts'
import { allTasks } from '../tests/e2e/routing-helpers.ts'
import { type GossipParts, gossipParts, gossipPartsTable } from './gossip-parts.ts'
import {
  atMost,
  type Goal,
  machine,
  median,
  notMeasured,
  percentile,
  reportGoals,
  writeSection,
} from './results.ts'

const sizes = (process.argv[2] ?? '5,20,40').split(',').map(Number)
const idleSec = Number(process.argv[3] ?? 60)
const changes = Number(process.argv[4] ?? 20)
const taskCount = Number(process.argv[5] ?? 60)
const ONE_WAY_MS = 50
const RATE_KBIT = 20_000
const REGIONS = [
  ['eu', '203.0.113.1'],
  ['us', '203.0.113.2'],
  ['ap', '203.0.113.3'],
] as const
/** As in bench/mesh.ts: long enough that no heartbeat lands between a change and its measurement. */
const HEARTBEAT_MS = 5000
const ARGS = ['--p2p-host', '0.0.0.0', '--advert-interval-ms', String(HEARTBEAT_MS), '--log-level', 'warn']
/** One submitter per region; every other agent is a worker. A trivial JavaScript run task. */
const SUBMITTERS = REGIONS.length
/** An advert not in a receiver's table this long after the change is reported late. */
const LATE_MS = 20_000
const TASK = {
  kind: 'run',
  language: 'javascript',
  code: 'const answer = 6 * 7',
  tests: "test('answer', () => assert.equal(answer, 42))",
}

const get = async <T>(a: AgentProcess, path: string): Promise<T> => (await (await a.api(path)).json()) as T
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const f = (x: number, d = 1) => x.toFixed(d)

interface Member {
  agent: NsAgent
  region: string
}

interface Result {
  n: number
  formMs: number
  rttMs: number
  /** Per sample: lag, WAN links on the shortest path, gossip hops over direct connections. */
  lag: number[]
  wanHops: number[]
  gossipHops: number[]
  toAll: number[]
  bytesPerMin: number[]
  msgsPerMin: number[]
  parts: GossipParts
  rssMb: number[]
  tasksPerSec: number
  taskP50Ms: number
  taskP95Ms: number
  crossRegion: number
  succeeded: number
  load: [number, number]
}

async function startMesh(
  lab: NetLab,
  n: number,
): Promise<{ members: Member[]; formMs: number; rttMs: number }> {
  const ns = REGIONS.map(([name]) => lab.ns(name))
  await lab.wan(Object.fromEntries(REGIONS.map(([, addr], i) => [ns[i]!, addr])), ONE_WAY_MS, RATE_KBIT)
  const start = (i: number, extra: string[]) =>
    lab.agent(ns[i % 3]!, {
      args: [...ARGS, '--mode', i < SUBMITTERS ? 'coordinator' : 'worker', ...extra],
      timeoutMs: 300_000,
    })
  const seed = await start(0, [])
  const boot = seed.ready.p2pAddrs.find(
    (x) => x.startsWith(`/ip4/${REGIONS[0][1]}/tcp/`) && !x.includes('/ws'),
  )
  if (boot === undefined) throw new Error(`seed has no WAN address: ${seed.ready.p2pAddrs.join(' ')}`)
  const agents = [seed]
  // Four at a time: start-up is CPU-bound and the machine has two cores.
  while (agents.length < n) {
    const batch = Math.min(4, n - agents.length)
    const first = agents.length
    agents.push(
      ...(await Promise.all(
        Array.from({ length: batch }, (_, j) => start(first + j, ['--bootstrap', boot])),
      )),
    )
  }
  const t0 = Date.now()
  await waitFor(
    async () => {
      const views = await Promise.all(agents.map((a) => get<{ peers: MeshPeer[] }>(a, '/mesh/peers')))
      return views.every((v) => v.peers.filter((p) => p.state === 'online').length === n - 1)
    },
    300_000,
    500,
  )
  const formMs = Date.now() - t0
  const members = agents.map((agent, i) => ({ agent, region: REGIONS[i % 3]![0] }))
  return { members, formMs, rttMs: lab.pingMs(ns[2]!, REGIONS[0][1]) }
}

/**
 * From `from`, over the direct connections each agent reports: the fewest WAN links to each
 * agent (0-1 breadth-first search: a link within a region costs nothing) and the fewest hops.
 */
async function topology(members: Member[]) {
  const regionOf = new Map(members.map((m) => [m.agent.ready.peerId, m.region]))
  const adj = new Map<string, string[]>()
  for (const m of members) {
    const peers = (await get<{ peers: MeshPeer[] }>(m.agent, '/mesh/peers')).peers
    adj.set(
      m.agent.ready.peerId,
      peers.filter((p) => p.connection === 'direct').map((p) => p.peerId),
    )
  }
  const search = (from: string, cost: (a: string, b: string) => number) => {
    const dist = new Map([[from, 0]])
    const deque = [from]
    while (deque.length > 0) {
      const id = deque.shift()!
      for (const next of adj.get(id) ?? []) {
        const d = dist.get(id)! + cost(id, next)
        if (d < (dist.get(next) ?? Number.POSITIVE_INFINITY)) {
          dist.set(next, d)
          if (cost(id, next) === 0) deque.unshift(next)
          else deque.push(next)
        }
      }
    }
    return dist
  }
  return {
    wanHops: (from: string) => search(from, (a, b) => (regionOf.get(a) === regionOf.get(b) ? 0 : 1)),
    gossipHops: (from: string) => search(from, () => 1),
  }
}

async function throughput(members: Member[]) {
  const submitters = members.slice(0, SUBMITTERS)
  const regionOf = new Map(members.map((m) => [m.agent.ready.peerId, m.region]))
  const ids = new Set<string>()
  const t0 = Date.now()
  await Promise.all(
    submitters.map(async (s, k) => {
      for (let i = k; i < taskCount; i += SUBMITTERS) {
        const res = await s.agent.api('/tasks', { method: 'POST', json: TASK })
        if (res.status !== 202) throw new Error(`POST /tasks answered ${res.status}: ${await res.text()}`)
        ids.add(((await res.json()) as { id: string }).id)
      }
    }),
  )
  const final = new Set(['succeeded', 'failed', 'cancelled'])
  const mine = async () =>
    (await Promise.all(submitters.map(async (s) => ({ s, tasks: await allTasks(s.agent) })))).flatMap(
      ({ s, tasks }) => tasks.filter((t) => ids.has(t.id)).map((t) => ({ s, t })),
    )
  let done: { s: Member; t: TaskRecord }[] = []
  await waitFor(
    async () => {
      done = await mine()
      return done.length === taskCount && done.every(({ t }) => final.has(t.status))
    },
    600_000,
    250,
  )
  const lastEnd = Math.max(...done.map(({ t }) => Date.parse(t.finishedAt ?? t.updatedAt)))
  const latency = done.map(({ t }) => Date.parse(t.finishedAt ?? t.updatedAt) - Date.parse(t.createdAt))
  return {
    tasksPerSec: (taskCount * 1000) / (lastEnd - t0),
    taskP50Ms: percentile(latency, 50),
    taskP95Ms: percentile(latency, 95),
    crossRegion: done.filter(({ s, t }) => t.executor && regionOf.get(t.executor.peerId) !== s.region).length,
    succeeded: done.filter(({ t }) => t.status === 'succeeded').length,
  }
}

async function measure(n: number): Promise<Result> {
  const lab = new NetLab()
  stopping = () => {
    void cleanupAgents().finally(() => {
      lab.close()
      process.exit(130)
    })
  }
  const load0 = loadavg()[0]!
  try {
    const { members, formMs, rttMs } = await startMesh(lab, n)
    const agents = members.map((m) => m.agent)
    console.log(`N=${n}: meshed ${formMs} ms after the last agent was ready`)
    // Let gossipsub settle its mesh (GRAFT/PRUNE) and the joins' snapshots pass.
    await sleep(15_000)

    const before = await Promise.all(agents.map((a) => get<MeshStats>(a, '/mesh/stats')))
    await sleep(idleSec * 1000)
    const after = await Promise.all(agents.map((a) => get<MeshStats>(a, '/mesh/stats')))
    const parts = gossipParts(before, after, idleSec)
    const perMin = (f: (s: MeshStats) => number) =>
      after.map((s, i) => ((f(s) - f(before[i]!)) * 60) / idleSec)
    const bytesPerMin = perMin((s) => s.gossip.bytesSent + s.gossip.bytesReceived)
    const msgsPerMin = perMin((s) => s.gossip.messagesFirstSeen + s.gossip.messagesDuplicate)
    const rssMb = agents.map(
      (a) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${a.proc.pid}/status`, 'utf8'))![1]) / 1024,
    )

    const topo = await topology(members)
    const lag: number[] = []
    const wanHops: number[] = []
    const gossipHops: number[] = []
    const toAll: number[] = []
    for (let k = 0; k < changes; k++) {
      const publisher = agents[k % n]!
      const region = `bench-wan-${n}-${k}`
      await publisher.api('/orchestration/settings', { method: 'PUT', json: { region } })
      const wan = topo.wanHops(publisher.ready.peerId)
      const hop = topo.gossipHops(publisher.ready.peerId)
      let worst = 0
      for (const a of agents) {
        if (a === publisher) continue
        const d = await waitFor(
          async () => {
            const r = await a.api(`/agent-mesh/peers/${publisher.ready.peerId}`)
            const detail = r.ok ? ((await r.json()) as MeshPeerDetail) : undefined
            return detail?.advert.body.region === region ? detail : undefined
          },
          LATE_MS,
          50,
        ).catch(() => undefined)
        // Not there after LATE_MS: counted, and as late as can be in the percentiles.
        const ms =
          d === undefined
            ? Number.POSITIVE_INFINITY
            : Date.parse(d.advertReceivedAt) - d.advert.body.timestamp
        lag.push(ms)
        wanHops.push(wan.get(a.ready.peerId) ?? Number.NaN)
        gossipHops.push(hop.get(a.ready.peerId) ?? Number.NaN)
        worst = Math.max(worst, ms)
      }
      toAll.push(worst)
      await sleep(300)
    }

    const tp = await throughput(members)
    return {
      n,
      formMs,
      rttMs,
      lag,
      wanHops,
      gossipHops,
      toAll,
      bytesPerMin,
      msgsPerMin,
      parts,
      rssMb,
      ...tp,
      load: [load0, loadavg()[0]!],
    }
  } finally {
    await cleanupAgents()
    lab.close()
  }
}

// Stopped by a signal, the agents and namespaces go too (cleanupAgents and lab.close in measure).
let stopping: (() => void) | undefined
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    stopping?.()
    process.exitCode = 130
  })

const results: Result[] = []
for (const n of sizes) {
  try {
    const r = await measure(n)
    results.push(r)
    // Each size's row as soon as it is measured: a later size that fails or is stopped loses nothing.
    console.log(`N=${n}: ${row(r)}`)
  } catch (err) {
    // A size the machine does not hold is a result too: say so, keep the others.
    console.log(`N=${n}: MISS: ${(err as Error).message.split('\n')[0]}`)
  }
}

function row(r: Result): string {
  const cross = r.lag.filter((_, i) => r.wanHops[i]! >= 1)
  const floors = r.wanHops.filter((h) => h >= 1).map((h) => h * ONE_WAY_MS)
  const within = r.lag.filter((_, i) => r.wanHops[i] === 0)
  const p95 = percentile(cross, 95)
  const floor = percentile(floors, 95)
  const meanHops = r.gossipHops.reduce((a, b) => a + b, 0) / r.gossipHops.length
  const late = r.lag.filter((x) => x === Number.POSITIVE_INFINITY).length
  return `| ${r.n} | ${r.formMs} ms | ${percentile(cross, 50)} / ${p95} ms | ${floor} ms (${Math.max(...r.wanHops)} WAN link${Math.max(...r.wanHops) > 1 ? 's' : ''} at most) | ${f(p95 / floor, 2)}× ${p95 <= 3 * floor ? 'met' : 'MISSED'} | ${within.length > 0 ? `${percentile(within, 95)} ms` : '–'} | ${percentile(r.toAll, 95)} ms | ${late} of ${r.lag.length} | ${f(meanHops, 2)} | ${Math.round(median(r.bytesPerMin))} B, ${Math.round(median(r.msgsPerMin))} msgs | ${f(median(r.rssMb))} MB (max ${f(Math.max(...r.rssMb))}) | ${f(r.tasksPerSec, 2)}/s, p50 ${r.taskP50Ms} / p95 ${r.taskP95Ms} ms, ${r.succeeded}/${taskCount} ok, ${r.crossRegion} cross-region | ${f(r.rttMs)} ms | ${f(r.load[0])} → ${f(r.load[1])} |`
}
const rows = results.map(row)
const small = results.find((r) => r.n === Math.min(...results.map((x) => x.n)))
const large = results.find((r) => r.n === Math.max(...results.map((x) => x.n)))
const idleRatio = small && large ? median(large.bytesPerMin) / median(small.bytesPerMin) : Number.NaN
const missed = sizes.filter((n) => !results.some((r) => r.n === n))
const goals: Goal[] = results.map((r) => {
  const cross = r.lag.filter((_, i) => r.wanHops[i]! >= 1)
  const floor = percentile(
    r.wanHops.filter((h) => h >= 1).map((h) => h * ONE_WAY_MS),
    95,
  )
  return atMost(
    `advert propagation p95 over the WAN at N = ${r.n}, cross-region, against the floor p95 (${floor} ms)`,
    percentile(cross, 95) / floor,
    3,
    (x) => `${f(x, 2)}×`,
  )
})
for (const n of missed)
  goals.push(
    notMeasured(
      `advert propagation p95 over the WAN at N = ${n}`,
      '≤ 3×',
      'the mesh did not form or finish on this machine',
    ),
  )
if (small && large && small !== large)
  goals.push(
    atMost(
      `idle gossip per node over the WAN, N = ${large.n} against N = ${small.n}`,
      idleRatio,
      1.3,
      (x) => `${f(x, 2)}×`,
    ),
  )
const body = `Run: \`node bench/mesh-wan.ts ${sizes.join(',')} ${idleSec} ${changes} ${taskCount}\` (root) on ${machine()}. N real agent processes spread round-robin over three regions (network namespaces joined by \`scripts/e2e/wan-link.py\`, ${ONE_WAY_MS} ms one way, ${RATE_KBIT / 1000} Mbit/s per direction; within a region, no added latency); the first agent in each region is a coordinator (submitter), the rest are workers. Base heartbeat ${HEARTBEAT_MS} ms, idle window ${idleSec} s, ${changes} advert changes per size (a region change on each agent in turn), propagation per receiver = the time its peer table took the advert − the advert's own timestamp (one clock). Floor per receiver = the fewest WAN links on any path of direct connections from the publisher × ${ONE_WAY_MS} ms (independent of the measured gossip hop); goal p95 ≤ 3× floor. Throughput: ${taskCount} trivial JavaScript run tasks, sent at once by the ${SUBMITTERS} submitters, first submit to last finish.

| N | full table after last start | cross-region propagation p50 / p95 | floor p95 | p95 / floor (goal ≤ 3×) | within a region p95 | to all p95 | not there after ${LATE_MS / 1000} s | mean gossip hops | idle gossip per node per minute (median; sent + received) | RSS per agent (median) | task throughput | ping RTT between regions | load avg (1 min) start → end |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Idle gossip per node, N=${large?.n} against N=${small?.n}: ${f(idleRatio, 2)}× (goal ≤ 1.3×).${missed.length > 0 ? `\nMissed sizes (did not mesh or did not finish on this machine): ${missed.join(', ')}.` : ''}

What the idle gossip is made of (gossipsub's counters from each agent's \`/metrics\` over the same window):

${gossipPartsTable(results.map((r) => ({ n: r.n, parts: r.parts })))}`
writeSection('Mesh over the simulated WAN', body)
reportGoals('mesh-wan', goals)
console.log(body)
