/**
 * Mesh: for N real agent processes on loopback, advert propagation (p50/p95, per receiver and to
 * all) against the floor of gossip hops × one-way latency, duplicates per useful message, idle
 * gossip bytes and messages per node per minute, and RSS per agent.
 * Run: node bench/mesh.ts [sizes=5,20] [idleSec=90] [changes=20]
 */
import { readFileSync } from 'node:fs'
import type { MeshPeer, MeshPeerDetail, MeshStats } from '@edgecoder/protocol'
import { type AgentProcess, cleanupAgents, startAgent, waitFor } from '../tests/e2e/harness.ts'
import { machine, median, percentile, writeSection } from './results.ts'

const sizes = (process.argv[2] ?? '5,20').split(',').map(Number)
const idleSec = Number(process.argv[3] ?? 90)
const changes = Number(process.argv[4] ?? 20)
/** Long enough that no heartbeat lands between a change and its measurement. */
const HEARTBEAT_MS = 5000
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

const get = async <T>(a: AgentProcess, path: string): Promise<T> => (await (await a.api(path)).json()) as T
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Result {
  n: number
  formMs: number
  samples: number[]
  toAll: number[]
  floorNet: number[]
  floorHop: number[]
  oneHopMs: number
  rttMs: number
  bytesPerMin: number[]
  rpcsPerMin: number[]
  msgsPerMin: number[]
  dupPerUseful: number
  rssMb: number[]
}

async function startMesh(n: number): Promise<{ agents: AgentProcess[]; formMs: number }> {
  const seed = await startAgent({ args: ARGS })
  const tcp = seed.ready.p2pAddrs.find(
    (a) => a.includes('/tcp/') && !a.includes('/ws') && !a.includes('circuit'),
  )!
  const agents = [seed]
  // Four at a time: start-up is CPU-bound and the machine has two cores.
  while (agents.length < n) {
    const batch = Math.min(4, n - agents.length)
    agents.push(
      ...(await Promise.all(
        Array.from({ length: batch }, () => startAgent({ args: [...ARGS, '--bootstrap', tcp] })),
      )),
    )
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

async function measure(n: number): Promise<Result> {
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
  const samples: number[] = []
  const sampleHops: number[] = []
  const toAll: number[] = []
  for (let k = 0; k < changes; k++) {
    const publisher = agents[k % n]!
    const region = `bench-${n}-${k}`
    await publisher.api('/orchestration/settings', { method: 'PUT', json: { region } })
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
      samples.push(lag)
      sampleHops.push(dist.get(a.ready.peerId) ?? Number.NaN)
      worst = Math.max(worst, lag)
    }
    toAll.push(worst)
    await sleep(300)
  }
  // One gossip hop, measured: how long a neighbour of the publisher took to take the advert.
  const oneHop = samples.filter((_, i) => sampleHops[i] === 1)
  const oneHopMs = median(oneHop.length > 0 ? oneHop : samples)
  const floorNet = sampleHops.map((h) => (h * rttMs) / 2)
  const floorHop = sampleHops.map((h) => h * oneHopMs)
  await cleanupAgents()
  return {
    n,
    formMs,
    samples,
    toAll,
    floorNet,
    floorHop,
    oneHopMs,
    rttMs,
    bytesPerMin,
    rpcsPerMin,
    msgsPerMin,
    dupPerUseful: first === 0 ? 0 : dups / first,
    rssMb,
  }
}

const results: Result[] = []
try {
  for (const n of sizes) {
    const r = await measure(n)
    results.push(r)
    console.log(
      `N=${n}: p50 ${percentile(r.samples, 50)} ms, p95 ${percentile(r.samples, 95)} ms, idle ${Math.round(median(r.bytesPerMin))} B/min/node, dup/useful ${r.dupPerUseful.toFixed(2)}, RSS ${median(r.rssMb).toFixed(0)} MB`,
    )
  }
} finally {
  await cleanupAgents()
}

const f = (x: number, d = 1) => x.toFixed(d)
const rows = results.map((r) => {
  const hopsAvg = r.floorHop.reduce((a, b) => a + b, 0) / r.floorHop.length / r.oneHopMs
  return `| ${r.n} | ${percentile(r.samples, 50)} / ${percentile(r.samples, 95)} ms | ${percentile(r.toAll, 50)} / ${percentile(r.toAll, 95)} ms | ${f(hopsAvg, 2)} | ${f(r.rttMs / 2, 2)} ms | ${f(percentile(r.samples, 95) / Math.max(0.001, percentile(r.floorNet, 95)))}× | ${f(r.oneHopMs)} ms | ${f(percentile(r.samples, 95) / Math.max(0.001, percentile(r.floorHop, 95)))}× | ${f(r.dupPerUseful, 2)} | ${Math.round(median(r.bytesPerMin))} B, ${Math.round(median(r.rpcsPerMin))} RPCs, ${Math.round(median(r.msgsPerMin))} msgs | ${f(median(r.rssMb))} MB (max ${f(Math.max(...r.rssMb))}) |`
})
const small = results.find((r) => r.n === Math.min(...sizes))
const large = results.find((r) => r.n === Math.max(...sizes))
const idleRatio = small && large ? median(large.bytesPerMin) / median(small.bytesPerMin) : Number.NaN
const body = `Run: \`node bench/mesh.ts ${sizes.join(',')} ${idleSec} ${changes}\` on ${machine()}. Real agent processes on loopback, base heartbeat ${HEARTBEAT_MS} ms (it stretches with the mesh: each node aims to receive about four heartbeats per base interval), idle window ${idleSec} s, ${changes} advert changes per size (a region change on each agent in turn), propagation measured per receiver as the time its peer table took the advert minus the advert's own timestamp (one clock: same machine).

| N | propagation p50 / p95 | to all p50 / p95 | mean hops | one-way (ping RTT/2) | p95 / (hops × one-way) | one gossip hop (median, measured) | p95 / (hops × one hop) | duplicates per useful message | idle gossip per node per minute (median; sent + received) | RSS per agent (median) |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Idle gossip per node, N=${large?.n} against N=${small?.n}: ${f(idleRatio, 2)}× (goal ≤ 1.3×).
Goal p95 propagation ≤ 3× the floor, read two ways. Against hops × one-way network latency (half the libp2p ping RTT on the same connections, which on loopback is itself mostly event-loop time) the gossip path also pays for signing, a signature check and schema validation at every node, which no gossip design removes. Against hops × one measured gossip hop (how long the publisher's direct neighbours took), the ratio shows what gossip itself adds. Start-up of ${large?.n} agents, four at a time on two shared cores, dominates the run; time to a full table after the last agent was ready: ${results.map((r) => `N=${r.n} ${r.formMs} ms`).join(', ')}.`
if (process.env.BENCH_DRY_RUN !== '1') writeSection('Mesh', body)
console.log(body)
