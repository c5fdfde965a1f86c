import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STARTUP_TRACE_PREFIX, type StartupTrace } from '../../packages/agent/src/startup-trace.ts'
import { BIN, cleanupAgents, REPO_ROOT, startAgent, waitFor } from './harness.ts'

// The first start after a change would build the bundle: do it before the agent starts.
beforeAll(() => {
  execFileSync(join(REPO_ROOT, 'scripts/setup.sh'), ['--quiet'], { stdio: 'inherit' })
}, 300_000)
afterAll(cleanupAgents)

/** The phases node.ts and the start command mark, in the order they run. */
const PHASES = [
  'load',
  'config',
  'data dir lock',
  'identity',
  'store',
  'activation',
  'mesh: libp2p built',
  'mesh: libp2p started',
  'mesh',
  'ledger',
]
const LAST = ['api build', 'api listen', 'ready']

describe('edgecoder start --startup-trace', () => {
  it('prints, once ready, the time of each start-up phase from the process start to ready', async () => {
    const spawnedAt = Date.now()
    const a = await startAgent({
      command: [BIN],
      args: ['--startup-trace'],
      env: { EDGECODER_LOG_LEVEL: 'warn' },
    })
    const line = await waitFor(() =>
      a
        .stderr()
        .split('\n')
        .find((l) => l.startsWith(STARTUP_TRACE_PREFIX)),
    )
    const trace = JSON.parse(line!.slice(STARTUP_TRACE_PREFIX.length)) as StartupTrace
    const names = trace.phases.map((p) => p.phase)
    expect(names.slice(0, PHASES.length)).toEqual(PHASES)
    expect(names.slice(-LAST.length)).toEqual(LAST)
    // Each phase ends after the one before, and its own time is the difference.
    let end = 0
    for (const p of trace.phases) {
      expect(p.ms).toBeGreaterThanOrEqual(0)
      expect(p.cpuMs).toBeGreaterThanOrEqual(0)
      expect(p.endMs).toBeGreaterThanOrEqual(end)
      expect(Math.abs(p.endMs - end - p.ms)).toBeLessThan(0.2)
      end = p.endMs
    }
    // The process started after the spawn (bin/edgecoder's own work comes first) and became ready
    // before its ready line was read here.
    expect(trace.processStart).toBeGreaterThanOrEqual(spawnedAt - 5)
    expect(trace.processStart + end).toBeLessThanOrEqual(Date.now() + 5)
    expect((await a.api('/readyz')).status).toBe(200)
  })

  it('prints nothing of the kind without the flag', async () => {
    const a = await startAgent({ command: [BIN], env: { EDGECODER_LOG_LEVEL: 'warn' } })
    expect((await a.api('/readyz')).status).toBe(200)
    await a.stop()
    expect(a.stderr()).not.toContain(STARTUP_TRACE_PREFIX.trim())
  })
})
