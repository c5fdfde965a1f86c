import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RuntimeHealth } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, cleanupAgents, REPO_ROOT, startAgent } from './harness.ts'
import { submitOk, waitForStatus } from './tasks-helpers.ts'

/** The goal of an idle agent with no model (issue 11): the agent process alone, in bytes. */
const IDLE_RSS_BOUND = 100e6
const SAMPLES = 10
const SAMPLE_EVERY_MS = 500

const rssOf = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024

// The first start after a change would build the bundle: do it before anything is timed.
beforeAll(() => {
  execFileSync(join(REPO_ROOT, 'scripts/setup.sh'), ['--quiet'], { stdio: 'inherit' })
}, 300_000)
afterAll(cleanupAgents)

describe.runIf(process.platform === 'linux')('an agent started through bin/edgecoder', () => {
  it('idles under 100 MB of resident memory with no model and the sandbox cold', async () => {
    const a = await startAgent({ command: [BIN], env: { EDGECODER_LOG_LEVEL: 'warn' } })
    const pid = a.proc.pid!
    // The operator's entry point runs the built bundle, not the TypeScript sources.
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(
      join(REPO_ROOT, 'packages/agent/dist/edgecoder.js'),
    )
    expect((await a.api('/readyz')).status).toBe(200)
    const samples: number[] = []
    // RSS is sampled over a few seconds of idling: the bound holds throughout, not at one instant.
    for (let i = 0; i < SAMPLES; i++) {
      samples.push(rssOf(pid))
      await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS))
    }
    const runtime = (await (await a.api('/health/runtime')).json()) as RuntimeHealth
    expect(runtime.model).toBeNull()
    expect(runtime.sandbox?.processes).toEqual([])
    const mb = samples.map((b) => (b / 1e6).toFixed(1))
    console.log(`agent idle RSS (MB): ${mb.join(', ')}`)
    expect(Math.max(...samples), `idle RSS samples ${mb.join(', ')} MB`).toBeLessThan(IDLE_RSS_BOUND)
  })

  it('stays under 100 MB, the agent process alone, after it has run Python and JavaScript', async () => {
    const a = await startAgent({ command: [BIN], env: { EDGECODER_LOG_LEVEL: 'warn' } })
    const pid = a.proc.pid!
    for (const language of ['python', 'javascript'] as const) {
      const id = await submitOk(a, { kind: 'run', language, code: 'print("ok")' })
      const done = await waitForStatus(a, id, undefined, 240_000)
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded')
    }
    const runtime = (await (await a.api('/health/runtime')).json()) as RuntimeHealth
    // The interpreters live in their own processes, counted apart from the agent.
    expect(runtime.sandbox?.processes.length).toBeGreaterThan(0)
    const samples: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      samples.push(rssOf(pid))
      await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS))
    }
    const mb = samples.map((b) => (b / 1e6).toFixed(1))
    console.log(`agent RSS after a Python and a JavaScript run (MB): ${mb.join(', ')}`)
    expect(Math.max(...samples), `RSS samples after runs ${mb.join(', ')} MB`).toBeLessThan(IDLE_RSS_BOUND)
  }, 300_000)
})
