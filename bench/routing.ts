/**
 * Routing across real agent processes on loopback: the overhead of running a task on a peer
 * instead of locally, against the measured RTT; throughput of `run` tasks on 1 against 5
 * executors; Jain's fairness index of two submitters, one flooding; and the time from an
 * executor's death (kill -9) or stall (SIGSTOP) to its task's restart elsewhere.
 * Run: node bench/routing.ts [rounds=30] [tasks=40] [deaths=5] [--agent bin|sources|<command>] [--cpu-prof DIR]
 * `--cpu-prof DIR` runs the agents from the TypeScript sources under `node --cpu-prof` and says
 * where the CPU of a routed task goes beyond that of a local one, from the overhead rounds.
 */

import { parseArgs } from 'node:util'
import type { TaskRecord, TaskSpecInput } from '@edgecoder/protocol'
import { type AgentProcess, cleanupAgents, waitFor } from '../tests/e2e/harness.ts'
import { peersOf, tcpAddr } from '../tests/e2e/mesh-helpers.ts'
import {
  allTasks,
  awaitHop,
  expectMeshed,
  hops,
  jain,
  sleepTask,
  startNode,
  TASK_HEARTBEAT_MS,
} from '../tests/e2e/routing-helpers.ts'
import { readTaskEvents, submitOk } from '../tests/e2e/tasks-helpers.ts'
import { agentCommand } from './agents.ts'
import { type CpuSummary, cpuDiffTable, monotonicUs, summarizeProfiles } from './cpu-profile.ts'
import { atLeast, atMost, type Goal, load1, machine, median, reportGoals, writeSection } from './results.ts'

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { agent: { type: 'string' }, 'cpu-prof': { type: 'string' } },
})
const profileDir = opt['cpu-prof']
const rounds = Number(positionals[0] ?? 30)
const tasks = Number(positionals[1] ?? 40)
const deaths = Number(positionals[2] ?? 5)
const command = agentCommand(opt.agent)
const node = (mode: 'coordinator' | 'worker' | 'all-in-one', extra: string[]) =>
  profileDir === undefined
    ? startNode(mode, extra, { command })
    : startNode(mode, extra, { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } })
/** With `--cpu-prof`: the overhead rounds' windows, local and routed, to cut the profiles to. */
const windows = { local: [] as [number, number][], remote: [] as [number, number][] }
const QUIET = ['--log-level', 'warn']
const TRIVIAL: TaskSpecInput = {
  kind: 'run',
  language: 'javascript',
  code: 'const answer = 6 * 7',
  tests: "test('answer', () => assert.equal(answer, 42))",
}
const put = (a: AgentProcess, json: unknown) => a.api('/orchestration/settings', { method: 'PUT', json })
const round1 = (n: number) => Math.round(n * 10) / 10

/** Submits and follows the task's event stream to its end: the client's view of one task. */
async function timed(
  a: AgentProcess,
  spec: TaskSpecInput,
): Promise<{ ms: number; task: TaskRecord; sentAt: number; doneAt: number }> {
  const sentAt = Date.now()
  const t0 = performance.now()
  const id = await submitOk(a, spec)
  await readTaskEvents(a, id)
  const ms = performance.now() - t0
  const doneAt = Date.now()
  return { ms, task: (await allTasks(a)).find((t) => t.id === id)!, sentAt, doneAt }
}

/** The steps of a task's way, in the order they come (a local run skips the executor's). */
const STEP = {
  submit: 'submit → recorded',
  runningHere: 'recorded → running here',
  chosen: 'recorded → executor chosen',
  offered: 'chosen → the executor has its copy (offer signed, sent, checked, persisted there)',
  runningThere: 'the executor has its copy → running there',
  run: 'running (sandbox)',
  back: 'finished there → result recorded here',
  finished: 'result recorded → task finished here',
  seen: 'finished here → client sees task-done',
} as const

/** Where a task's time went, in ms, from the records of the submitter and (remote) the executor. */
type Phases = Record<string, number>
const at = (iso: string | null | undefined) => Date.parse(iso!)

function localPhases(r: Awaited<ReturnType<typeof timed>>): Phases {
  const t = r.task
  return {
    [STEP.submit]: at(t.createdAt) - r.sentAt,
    [STEP.runningHere]: at(t.startedAt) - at(t.createdAt),
    [STEP.run]: at(t.finishedAt) - at(t.startedAt),
    [STEP.seen]: r.doneAt - at(t.finishedAt),
  }
}

async function remotePhases(r: Awaited<ReturnType<typeof timed>>, b: AgentProcess): Promise<Phases> {
  const t = r.task
  const exec = (await (await b.api(`/tasks/${t.executor!.taskId}`)).json()) as TaskRecord
  const chosen = at(hops(t, 'chosen')[0]!.at)
  const completed = at(hops(t, 'completed')[0]?.at ?? t.finishedAt)
  return {
    [STEP.submit]: at(t.createdAt) - r.sentAt,
    [STEP.chosen]: chosen - at(t.createdAt),
    [STEP.offered]: at(exec.createdAt) - chosen,
    [STEP.runningThere]: at(exec.startedAt) - at(exec.createdAt),
    [STEP.run]: at(exec.finishedAt) - at(exec.startedAt),
    [STEP.back]: completed - at(exec.finishedAt),
    [STEP.finished]: at(t.finishedAt) - completed,
    [STEP.seen]: r.doneAt - at(t.finishedAt),
  }
}

function meanPhases(all: Phases[]): Phases {
  const out: Phases = {}
  for (const k of Object.keys(all[0] ?? {})) out[k] = all.reduce((s, p) => s + p[k]!, 0) / all.length
  return out
}

/** Local against remote, alternating: `a` runs the task itself, or (not contributing) sends it to `b`. */
async function overhead(a: AgentProcess, b: AgentProcess) {
  const local: number[] = []
  const remote: number[] = []
  const accept: number[] = []
  const localParts: Phases[] = []
  const remoteParts: Phases[] = []
  const rtts: number[] = []
  // The RTT compared with is libp2p's connection monitor's, which pings 10 s after a connection
  // opens; until then the peer shows the ping sent as the connection opened, which pays the
  // ping protocol's negotiation too and reads several times higher.
  await new Promise((r) => setTimeout(r, 11_000))
  for (let i = 0; i < 3; i++) await timed(a, TRIVIAL)
  for (let i = 0; i < rounds; i++) {
    await put(a, { contributing: true })
    let from = monotonicUs()
    const l = await timed(a, TRIVIAL)
    windows.local.push([from, monotonicUs()])
    if (l.task.executor?.local !== true) throw new Error('the local run went elsewhere')
    local.push(l.ms)
    localParts.push(localPhases(l))
    await put(a, { contributing: false })
    from = monotonicUs()
    const r = await timed(a, TRIVIAL)
    windows.remote.push([from, monotonicUs()])
    if (r.task.executor?.peerId !== b.ready.peerId) throw new Error('the remote run did not reach the peer')
    remote.push(r.ms)
    remoteParts.push(await remotePhases(r, b))
    accept.push(Date.parse(hops(r.task, 'accepted')[0]!.at) - Date.parse(hops(r.task, 'chosen')[0]!.at))
    const rtt = (await peersOf(a)).find((p) => p.peerId === b.ready.peerId)?.rttMs
    if (rtt !== null && rtt !== undefined) rtts.push(rtt)
  }
  await put(a, { contributing: true })
  return {
    local: median(local),
    remote: median(remote),
    accept: median(accept),
    rtt: rtts.length > 0 ? median(rtts) : Number.NaN,
    rttSamples: rtts.length,
    localParts: meanPhases(localParts),
    remoteParts: meanPhases(remoteParts),
    meanLocal: local.reduce((a, x) => a + x, 0) / local.length,
    meanRemote: remote.reduce((a, x) => a + x, 0) / remote.length,
  }
}

/** Follows the agent's `/events` stream, noting when each task was done; resolves once it is open. */
async function watchDone(a: AgentProcess, signal: AbortSignal): Promise<Map<string, number>> {
  const done = new Map<string, number>()
  const res = await a.api('/events', { signal })
  void (async () => {
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body!) {
        buf += decoder.decode(chunk, { stream: true })
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end)
          buf = buf.slice(end + 2)
          if (!block.includes('event: task-done\n')) continue
          const ev = JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as { taskId: string }
          done.set(ev.taskId, performance.now())
        }
      }
    } catch {
      // closed by the bench
    }
  })()
  return done
}

/** Tasks per second from the first submission to the last `task-done`, on the workers not paused. */
async function throughput(c: AgentProcess, spec: (i: number) => TaskSpecInput): Promise<number> {
  const ctrl = new AbortController()
  const done = await watchDone(c, ctrl.signal)
  const t0 = performance.now()
  const ids = await Promise.all(Array.from({ length: tasks }, (_, i) => submitOk(c, spec(i))))
  await waitFor(() => ids.every((id) => done.has(id)), 300_000, 10)
  ctrl.abort()
  return (tasks * 1000) / (Math.max(...ids.map((id) => done.get(id)!)) - t0)
}

async function fairness(c1: AgentProcess, c2: AgentProcess) {
  const flood = await Promise.all(
    Array.from({ length: 40 }, (_, i) => submitOk(c1, sleepTask(0.3, `f${i}`, { submitter: 'flood' }))),
  )
  await new Promise((r) => setTimeout(r, 1_500))
  const from = Date.now()
  const light = await Promise.all(
    Array.from({ length: 16 }, (_, i) => submitOk(c2, sleepTask(0.3, `l${i}`, { submitter: 'light' }))),
  )
  const finished = async (a: AgentProcess, ids: string[]) => {
    const ts = (await allTasks(a)).filter((t) => ids.includes(t.id))
    return ts.every((t) => t.status === 'succeeded') ? ts.map((t) => Date.parse(t.finishedAt!)) : undefined
  }
  const f = (await waitFor(() => finished(c1, flood), 300_000, 250))!
  const l = (await waitFor(() => finished(c2, light), 300_000, 250))!
  const to = Math.min(Math.max(...f), Math.max(...l))
  const shares = [f, l].map((xs) => xs.filter((x) => x >= from && x <= to).length)
  return { shares, index: jain(shares), windowMs: to - from }
}

/** Kills (or stops) the executor of a long task and times the task's next acceptance elsewhere. */
async function failover(
  c: AgentProcess,
  workers: AgentProcess[],
  how: 'SIGKILL' | 'SIGSTOP',
): Promise<number> {
  const id = await submitOk(c, sleepTask(6, how))
  const placed = await awaitHop(c, id, 'accepted')
  const victim = workers.find((w) => w.ready.peerId === placed.executor!.peerId)!
  const t0 = Date.now()
  victim.proc.kill(how)
  const moved = await awaitHop(c, id, 'accepted', 2, 30_000)
  const ms = Date.parse(hops(moved, 'accepted')[1]!.at) - t0
  if (how === 'SIGSTOP') victim.proc.kill('SIGCONT')
  else {
    // A fresh worker takes the dead one's place, so every round has five.
    const i = workers.indexOf(victim)
    const fresh = await node('worker', [...QUIET, '--bootstrap', tcpAddr(c)])
    workers[i] = fresh
    await waitFor(async () =>
      (await peersOf(c)).some((p) => p.peerId === fresh.ready.peerId && p.state === 'online'),
    )
  }
  return ms
}

/**
 * `--cpu-prof`: the overhead rounds only (a process killed by the failover rounds writes no
 * profile). Every agent stops normally and the profiles are cut to the rounds: the CPU of all
 * agents and their sandboxes during a local run against during a routed one.
 */
async function profiled(o: Awaited<ReturnType<typeof overhead>>, agents: AgentProcess[]): Promise<void> {
  await Promise.all(agents.map((x) => x.stop('SIGTERM')))
  const local: CpuSummary = summarizeProfiles(profileDir!, windows.local)
  const remote: CpuSummary = summarizeProfiles(profileDir!, windows.remote)
  const body = `Run: \`node bench/routing.ts ${rounds} --cpu-prof …\` on ${machine()}; the overhead rounds only, the agents from the TypeScript sources under \`node --cpu-prof\` (every agent and its sandbox process). The profiles are cut to the ${rounds} local and ${rounds} routed runs of the trivial task, submit to the client's \`task-done\`; each row is CPU per task, all processes together. Medians in these rounds: local ${round1(o.local)} ms, routed ${round1(o.remote)} ms (the profiler's own cost included).

The windows are not of equal length: the routed runs' together last ${round1(remote.windowMs / local.windowMs)}× the local ones', and every agent's background work (gossip heartbeats, adverts, pings, the connectivity upkeep) falls into them too. CPU per second of window: local ${round1(local.busyMs / (local.windowMs / 1000))} ms/s, routed ${round1(remote.busyMs / (remote.windowMs / 1000))} ms/s (seven processes on two cores: a process waiting for a core counts as busy). A row whose routed figure is about that ratio times its local one is background that a longer window holds, not the routed task's own cost; only a row that grows well beyond it is.

${cpuDiffTable(local, remote, rounds)}`
  writeSection('Routing: CPU profile', body)
  console.log(body)
}

async function main(): Promise<void> {
  const loadStart = load1()
  try {
    const c1 = await node('coordinator', QUIET)
    const boot = ['--bootstrap', tcpAddr(c1)]
    const c2 = await node('coordinator', [...QUIET, ...boot])
    const workers: AgentProcess[] = []
    for (let i = 0; i < 5; i++) workers.push(await node('worker', [...QUIET, ...boot]))
    const a = await node('all-in-one', [...QUIET, ...boot])
    await expectMeshed([c1, c2, a, ...workers], 30_000)
    await new Promise((r) => setTimeout(r, 3_000)) // sandboxes warm

    // Overhead: `a` and one worker alone take work; the other workers are paused.
    for (const w of workers.slice(1)) await put(w, { contributing: false })
    const o = await overhead(a, workers[0]!)
    if (profileDir !== undefined) return await profiled(o, [c1, c2, a, ...workers])
    await put(a, { contributing: false })

    // Throughput on 1, then 5 executors.
    const sleepy = (i: number) => sleepTask(0.2, `s${i}`)
    const trivial = () => TRIVIAL
    const one = { sleep: await throughput(c1, sleepy), trivial: await throughput(c1, trivial) }
    for (const w of workers.slice(1)) await put(w, { contributing: true })
    await new Promise((r) => setTimeout(r, 1_000))
    const five = { sleep: await throughput(c1, sleepy), trivial: await throughput(c1, trivial) }

    const fair = await fairness(c1, c2)
    const killed: number[] = []
    for (let i = 0; i < deaths; i++) killed.push(await failover(c1, workers, 'SIGKILL'))
    const stalled: number[] = []
    for (let i = 0; i < 3; i++) stalled.push(await failover(c1, workers, 'SIGSTOP'))

    const stallBound = 3 * TASK_HEARTBEAT_MS + 1000
    const overheadMs = o.remote - o.local
    const goals: Goal[] = [
      atMost(
        `routing overhead of a trivial task (remote − local, median), against 1.2 × RTT + 5 ms (RTT ${round1(o.rtt)} ms)`,
        overheadMs,
        1.2 * o.rtt + 5,
        (x) => `${round1(x)} ms`,
      ),
      atLeast("fairness between a flooding and a light submitter (Jain's index)", fair.index, 0.9, (x) =>
        x.toFixed(3),
      ),
      atMost(
        'executor stalled (SIGSTOP) → task accepted elsewhere (median)',
        median(stalled),
        stallBound,
        (x) => `${Math.round(x)} ms`,
      ),
    ]
    const phaseKeys = Object.values(STEP)
    const phaseRows = phaseKeys.map(
      (k) =>
        `| ${k} | ${o.localParts[k] === undefined ? '' : `${round1(o.localParts[k]!)} ms`} | ${o.remoteParts[k] === undefined ? '' : `${round1(o.remoteParts[k]!)} ms`} |`,
    )
    const body = `Run: \`node bench/routing.ts ${rounds} ${tasks} ${deaths}\` on ${machine()}, \`nproc\` = 2; load average (1 min) ${loadStart} at the start, ${load1()} at the end (the cores are shared with other work).
Eight real agent processes on loopback (${opt.agent === undefined || opt.agent === 'bin' ? '`bin/edgecoder start`' : opt.agent === 'sources' ? 'the TypeScript sources' : `\`${opt.agent}\``}): two coordinators, five workers (one task slot each, \`--task-heartbeat-ms ${TASK_HEARTBEAT_MS}\`), one all-in-one node.

| measure | value |
|---|---|
| trivial JS \`run\` task, local on the all-in-one node (median of ${rounds}) | ${round1(o.local)} ms |
| the same task routed to a worker (median of ${rounds}) | ${round1(o.remote)} ms |
| routing overhead (remote − local) | ${round1(o.remote - o.local)} ms |
| RTT to that worker, as the submitting node's libp2p measures it (its connection monitor's ping; median of ${o.rttSamples} readings, one per round) | ${round1(o.rtt)} ms |
| overhead / RTT | ${round1((o.remote - o.local) / o.rtt)}× |
| goal: overhead ≤ 1.2 × RTT + 5 ms = ${round1(1.2 * o.rtt + 5)} ms | ${goals[0]!.met ? 'met' : '**missed**'} |
| offer → accept, as the route records it (median) | ${round1(o.accept)} ms |
| throughput, ${tasks} tasks that hold the executor 200 ms (Python \`time.sleep\`): 1 executor → 5 | ${round1(one.sleep)} → ${round1(five.sleep)} tasks/s (${round1(five.sleep / one.sleep)}×) |
| throughput, ${tasks} trivial JS tasks (CPU-bound, two shared cores): 1 executor → 5 | ${round1(one.trivial)} → ${round1(five.trivial)} tasks/s (${round1(five.trivial / one.trivial)}×) |
| fairness: 40 tasks flooded from one coordinator, 16 from another 1.5 s later (0.3 s each) | completions in the ${fair.windowMs} ms contended window ${fair.shares.join(' / ')}, Jain's index ${fair.index.toFixed(3)} (goal ≥ 0.9) |
| executor killed (-9) mid-task → task accepted elsewhere (median of ${deaths}; max) | ${median(killed)} ms; ${Math.max(...killed)} ms |
| executor stalled (SIGSTOP) mid-task → task accepted elsewhere (median of 3; bound ${stallBound} ms) | ${median(stalled)} ms |

The overhead is the protocol's whole cost on top of the RTT: dial or reuse the connection, sign
and verify the offer (Ed25519), record the nonce, persist the executor's copy and its events, and
stream the result back; both paths include the submitter's own SQLite transitions and event stream.
A killed executor's connection closes at once, so its loss is seen in milliseconds; a stalled one
keeps its connection and is noticed after 3 missed heartbeats plus a second. The 1 → 5 scaling of
sleeping tasks shows routing's spread (short of 5×: each task also pays the sandbox and the
protocol, and the last tasks leave executors idle). Trivial tasks are all overhead and the machine
has two cores: with five executors busy, the coordinator that dispatches them gets less CPU, so
they do not scale here.
All kill → rerun times (ms): ${killed.join(', ')}; stall → rerun: ${stalled.join(', ')}.

Where a trivial task's time goes (means over the ${rounds} rounds of each kind, from the task's records: the
submitter's and, for the remote run, the executor's copy; whole milliseconds on one clock, so each step is
±1 ms; mean local ${round1(o.meanLocal)} ms, mean remote ${round1(o.meanRemote)} ms):

| step | local | remote |
|---|---|---|
${phaseRows.join('\n')}`
    writeSection('Routing', body)
    reportGoals('routing', goals)
    console.log(body)
  } finally {
    await cleanupAgents()
  }
}

await main()
