import { FairShareQueue, type QueueEntry } from '../packages/agent/src/tasks/index.ts'
import { SandboxPool } from '../packages/sandbox/src/index.ts'
import { type AgentProcess, cleanupAgents, startAgent } from '../tests/e2e/harness.ts'
import { machine, median, percentile, writeSection } from './results.ts'

const runs = Number(process.argv[2] ?? 5)
const tasks = Number(process.argv[3] ?? 200)
const concurrency = Number(process.argv[4] ?? 2)

const REQUEST = {
  language: 'javascript' as const,
  code: 'const answer = 6 * 7',
  tests: "test('answer', () => assert.equal(answer, 42))",
}

function startBenchAgent() {
  return startAgent({
    args: ['--max-concurrent-tasks', String(concurrency), '--max-queued-tasks', String(tasks * 2)],
    env: { EDGECODER_LOG_LEVEL: 'warn' },
  })
}

/** Counts `task-done` events on the node's `/events` stream; resolves once `n` have come. */
function awaitDone(apiUrl: string, n: number, signal: AbortSignal): Promise<number> {
  return fetch(`${apiUrl}/events`, { signal }).then(async (res) => {
    let seen = 0
    const decoder = new TextDecoder()
    let buf = ''
    for await (const chunk of res.body!) {
      buf += decoder.decode(chunk, { stream: true })
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        if (buf.slice(0, end).includes('event: task-done\n') && ++seen === n) return performance.now()
        buf = buf.slice(end + 2)
      }
    }
    throw new Error('event stream ended early')
  })
}

async function throughApi(agent: AgentProcess): Promise<{ rate: number; submitP50: number }> {
  const ctrl = new AbortController()
  const done = awaitDone(agent.apiUrl, tasks, ctrl.signal)
  await new Promise((r) => setTimeout(r, 100))
  const latencies: number[] = []
  const t0 = performance.now()
  let next = 0
  // A client keeps a few submissions in flight, as `edgecoder submit` from several shells would.
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < tasks) {
        next++
        const s = performance.now()
        const res = await fetch(`${agent.apiUrl}/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ kind: 'run', ...REQUEST }),
        })
        if (res.status !== 202) throw new Error(`POST /tasks answered ${res.status}: ${await res.text()}`)
        await res.arrayBuffer()
        latencies.push(performance.now() - s)
      }
    }),
  )
  const t1 = await done
  ctrl.abort()
  return { rate: tasks / ((t1 - t0) / 1000), submitP50: percentile(latencies, 50) }
}

async function direct(pool: SandboxPool): Promise<number> {
  const t0 = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks) {
        next++
        const r = await pool.run(REQUEST)
        if (!r.ok) throw new Error(`sandbox run failed: ${r.outcome}`)
      }
    }),
  )
  return tasks / ((performance.now() - t0) / 1000)
}

function bareQueue(): number {
  const q = new FairShareQueue<QueueEntry>()
  const n = 100_000
  for (let i = 0; i < n; i++) q.push({ id: String(i), submitter: `s${i % 100}`, priority: 'normal' })
  const t0 = performance.now()
  while (q.pop());
  return n / ((performance.now() - t0) / 1000)
}

const pool = new SandboxPool({ languages: ['javascript'] })
await pool.start()
const agent = await startBenchAgent()
// Warm both paths (JIT, first SQLite pages, worker caches) before measuring.
await direct(pool)
await throughApi(agent)

const api: number[] = []
const straight: number[] = []
const submit: number[] = []
for (let i = 0; i < runs; i++) {
  const d = await direct(pool)
  const a = await throughApi(agent)
  straight.push(d)
  api.push(a.rate)
  submit.push(a.submitP50)
  console.log(`run ${i + 1}: API ${a.rate.toFixed(1)} tasks/s, direct ${d.toFixed(1)} runs/s`)
}
await agent.stop()
await cleanupAgents()
await pool.stop()
const queueRate = median([bareQueue(), bareQueue(), bareQueue()])

const overheadMs = 1000 / median(api) - 1000 / median(straight)
const body = `Run: \`node bench/tasks.ts ${runs} ${tasks} ${concurrency}\` on ${machine()}, \`nproc\` = ${(await import('node:os')).availableParallelism()}.

Each run sends ${tasks} trivial JavaScript \`run\` tasks (one test) through a real agent
(\`--max-concurrent-tasks ${concurrency}\`): \`POST /tasks\` with 8 submissions in flight, measured from the first
submission to the last \`task-done\` event on \`/events\`. Each task is persisted as queued, picked
by the fair-share queue, moved to running and finished in SQLite with its events, and run in
the agent's sandbox pool. Direct: the same request to a \`SandboxPool\` in the bench process, ${concurrency} in flight.
The agent and the bench share the machine's cores.

| measure | median of ${runs} |
|---|---|
| run tasks through the API | ${median(api).toFixed(1)} tasks/s |
| the same runs straight to the sandbox | ${median(straight).toFixed(1)} runs/s |
| ratio direct / API | ${(median(straight) / median(api)).toFixed(2)}× |
| engine overhead per task (API − direct time per task) | ${overheadMs.toFixed(2)} ms |
| \`POST /tasks\` latency, p50 | ${median(submit).toFixed(2)} ms |
| bare \`FairShareQueue\` pop, 100 submitters × 1000 entries | ${(queueRate / 1e6).toFixed(2)} M/s |

All runs, API tasks/s: ${api.map((x) => x.toFixed(1)).join(', ')}; direct runs/s: ${straight.map((x) => x.toFixed(1)).join(', ')}.`
writeSection('Tasks', body)
console.log(body)
