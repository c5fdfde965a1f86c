/**
 * Mesh: for N real agent processes on loopback (`bin/edgecoder`, the bundle operators run),
 * advert propagation per receiver against the floor the network sets, hops × one-way latency
 * (half the libp2p ping RTT of the agents' direct connections, measured by libp2p's connection
 * monitor, not by the gossip path); where a hop's time goes, from the agents' own timing of each
 * stage (`/mesh/stats`, mesh/advert-timing.ts) with libp2p's share as the rest; duplicates per
 * useful message, idle gossip per node per minute, and RSS per agent.
 * Run: node bench/mesh.ts [sizes=5,20] [idleSec=90] [changes=20] [--cpu-prof DIR] [--agent bin|sources|<command>]
 * `--cpu-prof DIR` runs the agents from the TypeScript sources under `node --cpu-prof` (profiles
 * name real files) and writes one profile per agent into DIR when they stop.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { AdvertStageTiming, MeshPeer, MeshPeerDetail, MeshStats } from '@edgecoder/protocol'
import { type AgentProcess, cleanupAgents, startAgent, waitFor } from '../tests/e2e/harness.ts'
import { agentCommand } from './agents.ts'
import { type CpuSummary, cpuTable, monotonicUs, summarizeProfiles } from './cpu-profile.ts'
import {
  atMost,
  type Goal,
  load1,
  machine,
  median,
  percentile,
  reportGoals,
  writeSection,
} from './results.ts'

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'cpu-prof': { type: 'string' }, agent: { type: 'string' } },
})
const sizes = (positionals[0] ?? '5,20').split(',').map(Number)
const idleSec = Number(positionals[1] ?? 90)
const changes = Number(positionals[2] ?? 20)
const profileDir = opt['cpu-prof']
const command = agentCommand(opt.agent)
/** Long enough that no heartbeat lands between a change and its measurement. */
const HEARTBEAT_MS = 5000
/** The goal: p95 of propagation within this many times each receiver's floor. */
const GOAL_FACTOR = 3
// Coordinator mode: the sandbox pool (Pyodide) stays cold, so RSS and start-up are the mesh's and the API's.
const ARGS = [
  '--mode',
  'coordinator',
  '--p2p-host',
  '127.0.0.1',
  '--advert-interval-ms',
  String(HEARTBEAT_MS),
  '--log-level',
  'warn',
]
const RECEIVER_STAGES = ['parse', 'schema', 'canonical', 'verify', 'admit'] as const
const PUBLISHER_STAGES = ['build', 'sign', 'publish'] as const

const get = async <T>(a: AgentProcess, path: string): Promise<T> => (await (await a.api(path)).json()) as T
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Each size's profiles in a folder of their own. */
const profilesOf = (n: number) => `${profileDir}/n${n}`

function launch(n: number, extra: string[]): Promise<AgentProcess> {
  if (profileDir === undefined) return startAgent({ command, args: [...ARGS, ...extra], timeoutMs: 120_000 })
  return startAgent({
    args: [...ARGS, ...extra],
    env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profilesOf(n)}` },
    timeoutMs: 120_000,
  })
}

interface Result {
  n: number
  formMs: number
  /** One per receiver and change: lag (ms), hops from the publisher, its floor (ms). */
  samples: { lag: number; hops: number; floor: number }[]
  toAll: number[]
  rttMs: number
  /** Mean ms per stage over the change rounds, summed over the agents. */
  stages: Record<string, { count: number; meanMs: number; maxMs: number }>
  bytesPerMin: number[]
  rpcsPerMin: number[]
  msgsPerMin: number[]
  dupPerUseful: number
  rssMb: number[]
  loadStart: string
  loadEnd: string
  /** With `--cpu-prof`: the agents' CPU in the 400 ms after each change, while the advert travels. */
  cpu?: CpuSummary
}

async function startMesh(n: number): Promise<{ agents: AgentProcess[]; formMs: number }> {
  const seed = await launch(n, [])
  const tcp = seed.ready.p2pAddrs.find(
    (a) => a.includes('/tcp/') && !a.includes('/ws') && !a.includes('circuit'),
  )!
  const agents = [seed]
  // Four at a time: start-up is CPU-bound and the machine has two cores.
  while (agents.length < n) {
    const batch = Math.min(4, n - agents.length)
    agents.push(...(await Promise.all(Array.from({ length: batch }, () => launch(n, ['--bootstrap', tcp])))))
  }
  const t0 = Date.now()
  await waitFor(
    async () => {
      const views = await Promise.all(agents.map((a) => get<{ peers: MeshPeer[] }>(a, '/mesh/peers')))
      return views.every((v) => v.peers.filter((p) => p.state === 'online').length === n - 1)
    },
    120_000,
    500,
  )
  return { agents, formMs: Date.now() - t0 }
}

/** Hops from `from` to every agent over direct connections, and the RTTs of those links. */
async function topology(
  agents: AgentProcess[],
): Promise<{ hops: (from: string) => Map<string, number>; rtts: number[] }> {
  const adj = new Map<string, string[]>()
  const rtts: number[] = []
  for (const a of agents) {
    const peers = (await get<{ peers: MeshPeer[] }>(a, '/mesh/peers')).peers
    adj.set(
      a.ready.peerId,
      peers.filter((p) => p.connection === 'direct').map((p) => p.peerId),
    )
    for (const p of peers) if (p.rttMs !== null && p.connection === 'direct') rtts.push(p.rttMs)
  }
  const hops = (from: string) => {
    const dist = new Map([[from, 0]])
    const queue = [from]
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      for (const next of adj.get(id) ?? []) {
        if (!dist.has(next)) {
          dist.set(next, dist.get(id)! + 1)
          queue.push(next)
        }
      }
    }
    return dist
  }
  return { hops, rtts }
}

/** Per stage, what all agents spent between two `/mesh/stats` readings. */
function stageDeltas(before: MeshStats[], after: MeshStats[]): Result['stages'] {
  const sum = new Map<string, { count: number; totalMs: number; maxMs: number }>()
  after.forEach((s, i) => {
    // An agent from before the stages were timed has none.
    for (const [stage, t] of Object.entries(s.advertTiming ?? {})) {
      const b: AdvertStageTiming = before[i]!.advertTiming?.[stage] ?? { count: 0, totalMs: 0, maxMs: 0 }
      const acc = sum.get(stage) ?? { count: 0, totalMs: 0, maxMs: 0 }
      acc.count += t.count - b.count
      acc.totalMs += t.totalMs - b.totalMs
      acc.maxMs = Math.max(acc.maxMs, t.maxMs)
      sum.set(stage, acc)
    }
  })
  const out: Result['stages'] = {}
  for (const [stage, s] of sum)
    out[stage] = { count: s.count, meanMs: s.count > 0 ? s.totalMs / s.count : 0, maxMs: s.maxMs }
  return out
}

async function measure(n: number): Promise<Result> {
  const loadStart = load1()
  const { agents, formMs } = await startMesh(n)
  console.log(`N=${n}: meshed ${formMs} ms after the last agent was ready`)
  // Let gossipsub settle its mesh (GRAFT/PRUNE) and the joins' snapshots pass.
  await sleep(15_000)

  const before = await Promise.all(agents.map((a) => get<MeshStats>(a, '/mesh/stats')))
  await sleep(idleSec * 1000)
  const after = await Promise.all(agents.map((a) => get<MeshStats>(a, '/mesh/stats')))
  const perMin = (f: (s: MeshStats) => number) => after.map((s, i) => ((f(s) - f(before[i]!)) * 60) / idleSec)
  const bytesPerMin = perMin((s) => s.gossip.bytesSent + s.gossip.bytesReceived)
  const rpcsPerMin = perMin((s) => s.gossip.rpcSent + s.gossip.rpcReceived)
  const msgsPerMin = perMin((s) => s.gossip.messagesFirstSeen + s.gossip.messagesDuplicate)
  const first = after.reduce(
    (x, s, i) => x + s.gossip.messagesFirstSeen - before[i]!.gossip.messagesFirstSeen,
    0,
  )
  const dups = after.reduce(
    (x, s, i) => x + s.gossip.messagesDuplicate - before[i]!.gossip.messagesDuplicate,
    0,
  )
  const rssMb = agents.map(
    (a) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${a.proc.pid}/status`, 'utf8'))![1]) / 1024,
  )

  const { hops, rtts } = await topology(agents)
  const rttMs = median(rtts)
  const samples: Result['samples'] = []
  const toAll: number[] = []
  const timedBefore = await Promise.all(agents.map((a) => get<MeshStats>(a, '/mesh/stats')))
  const windows: [number, number][] = []
  for (let k = 0; k < changes; k++) {
    const publisher = agents[k % n]!
    const region = `bench-${n}-${k}`
    const from = monotonicUs()
    await publisher.api('/orchestration/settings', { method: 'PUT', json: { region } })
    // Read the receivers once the advert has had time to arrive: polling them while it travels
    // would take the CPU the gossip path needs.
    await sleep(400)
    windows.push([from, monotonicUs()])
    const dist = hops(publisher.ready.peerId)
    let worst = 0
    for (const a of agents) {
      if (a === publisher) continue
      const d = await waitFor(
        async () => {
          const r = await a.api(`/agent-mesh/peers/${publisher.ready.peerId}`)
          const detail = r.ok ? ((await r.json()) as MeshPeerDetail) : undefined
          return detail?.advert.body.region === region ? detail : undefined
        },
        10_000,
        50,
      )
      const lag = Date.parse(d!.advertReceivedAt) - d!.advert.body.timestamp
      const h = dist.get(a.ready.peerId) ?? Number.NaN
      samples.push({ lag, hops: h, floor: (h * rttMs) / 2 })
      worst = Math.max(worst, lag)
    }
    toAll.push(worst)
  }
  const timedAfter = await Promise.all(agents.map((a) => get<MeshStats>(a, '/mesh/stats')))
  const loadEnd = load1()
  // Profiles are written when an agent exits normally.
  if (profileDir !== undefined) await Promise.all(agents.map((a) => a.stop('SIGTERM')))
  await cleanupAgents()
  const cpu = profileDir === undefined ? undefined : summarizeProfiles(profilesOf(n), windows)
  return {
    n,
    formMs,
    samples,
    toAll,
    rttMs,
    stages: stageDeltas(timedBefore, timedAfter),
    bytesPerMin,
    rpcsPerMin,
    msgsPerMin,
    dupPerUseful: first === 0 ? 0 : dups / first,
    rssMb,
    loadStart,
    loadEnd,
    cpu,
  }
}

const results: Result[] = []
try {
  for (const n of sizes) {
    const r = await measure(n)
    results.push(r)
    console.log(
      `N=${n}: p50 ${percentile(
        r.samples.map((s) => s.lag),
        50,
      )} ms, p95 ${percentile(
        r.samples.map((s) => s.lag),
        95,
      )} ms, one-way ${(r.rttMs / 2).toFixed(2)} ms, idle ${Math.round(median(r.bytesPerMin))} B/min/node, RSS ${median(r.rssMb).toFixed(0)} MB`,
    )
  }
} finally {
  await cleanupAgents()
}

const f = (x: number, d = 1) => x.toFixed(d)
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
/** Each receiver's lag over its own floor; the goal is on its 95th percentile. */
const ratios = (r: Result) => r.samples.map((s) => s.lag / Math.max(0.001, s.floor))
const stageMs = (r: Result, stage: string) => r.stages[stage]?.meanMs ?? 0

const rows = results.map((r) => {
  const lags = r.samples.map((s) => s.lag)
  return `| ${r.n} | ${percentile(lags, 50)} / ${percentile(lags, 95)} ms | ${percentile(r.toAll, 50)} / ${percentile(r.toAll, 95)} ms | ${f(mean(r.samples.map((s) => s.hops)), 2)} | ${f(r.rttMs / 2, 2)} ms | ${f(percentile(ratios(r), 95))}× | ${f(r.dupPerUseful, 2)} | ${Math.round(median(r.bytesPerMin))} B, ${Math.round(median(r.rpcsPerMin))} RPCs, ${Math.round(median(r.msgsPerMin))} msgs | ${f(median(r.rssMb))} MB (max ${f(Math.max(...r.rssMb))}) | ${r.loadStart} → ${r.loadEnd} |`
})

/** One hop, taken apart: the stages the agents timed, and the rest (libp2p's) as the remainder. */
function breakdown(r: Result): string {
  const oneHop = r.samples.filter((s) => s.hops === 1).map((s) => s.lag)
  const twoHop = r.samples.filter((s) => s.hops === 2).map((s) => s.lag)
  if (oneHop.length === 0) return ''
  const l1 = mean(oneHop)
  if (Object.keys(r.stages).length === 0) return ''
  const pub = PUBLISHER_STAGES.map((s) => stageMs(r, s))
  const rec = RECEIVER_STAGES.map((s) => stageMs(r, s))
  const libp2p = l1 - pub.reduce((a, b) => a + b, 0) - rec.reduce((a, b) => a + b, 0)
  const share = (ms: number) => `${f((100 * ms) / l1, 0)} %`
  const worst = (stage: string) => `${f(r.stages[stage]?.maxMs ?? 0, 1)} ms`
  const line = (where: string, stage: string, what: string, ms: number) =>
    `| ${where} | ${stage} | ${what} | ${f(ms, 3)} ms | ${worst(stage)} | ${share(ms)} |`
  const lines = [
    line('publisher', 'build', 'the advert’s content, from its timestamp on', pub[0]!),
    line('publisher', 'sign', 'canonical bytes, Ed25519, JSON', pub[1]!),
    line(
      'publisher',
      'publish',
      'gossipsub publish: its message signature, encoding, queueing the writes',
      pub[2]!,
    ),
    `| between | libp2p | the rest: noise and yamux both ways, TCP on loopback, gossipsub decoding and its message signature check, and waiting for each event loop | ${f(libp2p, 3)} ms | | ${share(libp2p)} |`,
    line('receiver', 'parse', 'JSON', rec[0]!),
    line('receiver', 'schema', 'zod', rec[1]!),
    line('receiver', 'canonical', 'the bytes the advert’s signature covers', rec[2]!),
    line('receiver', 'verify', 'the advert’s Ed25519 signature', rec[3]!),
    line('receiver', 'admit', 'activation check (none asked here)', rec[4]!),
  ]
  const extra =
    twoHop.length > 0
      ? `A second hop added ${f(mean(twoHop) - l1, 2)} ms on average (${twoHop.length} two-hop deliveries): the forwarding node's peer-table update (${f(stageMs(r, 'table'), 3)} ms, before gossipsub forwards), its forward, and the next receiver's stages again.`
      : `Every receiver was one hop from its publisher. The peer-table update after the checks, which runs before gossipsub forwards the message, took ${f(stageMs(r, 'table'), 3)} ms.`
  return `One hop at N = ${r.n}: mean lag of the one-hop deliveries ${f(l1, 2)} ms (${oneHop.length}), against a one-way latency of ${f(r.rttMs / 2, 2)} ms. Stage means over every advert the agents published (${r.stages.publish?.count ?? 0}) or checked (${r.stages.verify?.count ?? 0}) during the ${changes} changes, heartbeats included.

| where | stage | what | mean | worst | share of the hop (mean) |
|---|---|---|---|---|---|
${lines.join('\n')}

${extra}`
}

/** With `--cpu-prof`: what the agents' CPU did while each advert travelled. */
function cpuSection(r: Result): string {
  if (r.cpu === undefined) return ''
  return `
CPU profile at N = ${r.n} (\`--cpu-prof\`, every agent; the ${changes} windows of 400 ms after each change, while its advert travels, heartbeats included):

${cpuTable(r.cpu, changes, 'advert change')}`
}

const small = results.find((r) => r.n === Math.min(...sizes))
const large = results.find((r) => r.n === Math.max(...sizes))
const idleRatio = small && large ? median(large.bytesPerMin) / median(small.bytesPerMin) : Number.NaN
const goals: Goal[] = results.map((r) =>
  atMost(
    `advert propagation p95 at N = ${r.n}, per receiver over its floor (hops × one-way latency, ${f(r.rttMs / 2, 2)} ms one way)`,
    percentile(ratios(r), 95),
    GOAL_FACTOR,
    (x) => `${f(x)}×`,
  ),
)
if (small && large && small !== large)
  goals.push(
    atMost(
      `idle gossip per node, N = ${large.n} against N = ${small.n}`,
      idleRatio,
      1.3,
      (x) => `${f(x, 2)}×`,
    ),
  )

const verdict = (g: Goal) => (g.met ? 'met' : '**missed**')
const body = `Run: \`node bench/mesh.ts ${sizes.join(',')} ${idleSec} ${changes}${profileDir ? ' --cpu-prof …' : ''}\` on ${machine()}. Real agent processes on loopback (${profileDir ? 'TypeScript sources under `node --cpu-prof`' : opt.agent === undefined || opt.agent === 'bin' ? '`bin/edgecoder start`' : `\`${opt.agent}\``}), base heartbeat ${HEARTBEAT_MS} ms (it stretches with the mesh: each node aims to receive about four heartbeats per base interval), idle window ${idleSec} s, ${changes} advert changes per size (a region change on each agent in turn; the receivers are read 400 ms after each change, so polling them does not compete with the gossip). Propagation per receiver is the time its peer table took the advert minus the advert's own timestamp (one clock: same machine, whole milliseconds). **Floor** per receiver: its hops from the publisher over direct connections × one-way latency, half the median libp2p ping RTT of the agents' direct connections (libp2p's connection monitor; on loopback that RTT is mostly the two event loops).

| N | propagation p50 / p95 | to all p50 / p95 | mean hops | one-way latency | p95 of lag / floor (goal ≤ ${GOAL_FACTOR}×) | duplicates per useful message | idle gossip per node per minute (median; sent + received) | RSS per agent (median) | load (1 min) start → end |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

${goals.map((g) => `Goal, ${g.goal}: ${g.measured} (target ${g.target}), ${verdict(g)}.`).join('\n')}

${results.map(breakdown).filter(Boolean).join('\n\n')}
${results.map(cpuSection).filter(Boolean).join('\n\n')}

Start-up of ${large?.n} agents, four at a time, dominates the run; time to a full table after the last agent was ready: ${results.map((r) => `N=${r.n} ${r.formMs} ms`).join(', ')}.`
writeSection('Mesh', body)
reportGoals('mesh', goals)
console.log(body)
