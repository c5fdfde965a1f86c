/**
 * Agent start-up: time from spawning `edgecoder start` to the first 200 from /readyz, and the
 * resident memory after 30 s idle. Baseline in the same run: a bare `node -e` start to exit.
 * Run: node bench/startup.ts [runs=5] [idleSec=30]
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cleanupAgents, startAgent } from '../tests/e2e/harness.ts'
import { machine, median, writeSection } from './results.ts'

const runs = Number(process.argv[2] ?? 5)
const idleSec = Number(process.argv[3] ?? 30)

async function bareNode(): Promise<number> {
  const t0 = performance.now()
  await new Promise((r) => spawn(process.execPath, ['-e', '0']).on('exit', r))
  return performance.now() - t0
}

async function agentRun(mode: string): Promise<{ readyMs: number; rssMb: number }> {
  const t0 = performance.now()
  // The ready line carries the ephemeral port; readiness is then confirmed over HTTP.
  const a = await startAgent({ args: ['--mode', mode], env: { EDGECODER_LOG_LEVEL: 'warn' } })
  while ((await a.api('/readyz')).status !== 200) await new Promise((r) => setTimeout(r, 5))
  const readyMs = performance.now() - t0
  await new Promise((r) => setTimeout(r, idleSec * 1000))
  const status = readFileSync(`/proc/${a.proc.pid}/status`, 'utf8')
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024
  await a.stop()
  return { readyMs, rssMb }
}

const base: number[] = []
const ready: number[] = []
const rss: number[] = []
const coordRss: number[] = []
for (let i = 0; i < runs; i++) {
  base.push(await bareNode())
  const r = await agentRun('all-in-one')
  ready.push(r.readyMs)
  rss.push(r.rssMb)
  // A coordinator runs no code, so its sandbox stays cold: the difference is the warm sandbox.
  coordRss.push((await agentRun('coordinator')).rssMb)
  console.log(
    `run ${i + 1}: ready ${r.readyMs.toFixed(0)} ms, idle RSS ${r.rssMb.toFixed(1)} MB (coordinator ${coordRss.at(-1)!.toFixed(1)} MB)`,
  )
}
const body = `Run: \`node bench/startup.ts ${runs} ${idleSec}\` on ${machine()}.

| measure | median of ${runs} | goal |
|---|---|---|
| \`edgecoder start\` → first 200 from \`/readyz\` | ${median(ready).toFixed(0)} ms | < 1000 ms |
| bare \`node -e 0\` start to exit (baseline, same run) | ${median(base).toFixed(0)} ms | |
| ratio start-up / bare node | ${(median(ready) / median(base)).toFixed(1)}× | |
| idle RSS after ${idleSec} s, all-in-one (sandbox warm) | ${median(rss).toFixed(1)} MB | < 100 MB |
| idle RSS after ${idleSec} s, coordinator (sandbox cold) | ${median(coordRss).toFixed(1)} MB | |

All runs (ready ms): ${ready.map((x) => x.toFixed(0)).join(', ')}; RSS MB: ${rss.map((x) => x.toFixed(1)).join(', ')}.`
await cleanupAgents()
writeSection('Agent start-up', body)
console.log(body)
