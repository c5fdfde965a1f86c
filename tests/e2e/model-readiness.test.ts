import { afterEach, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { cleanupAgents, startAgent } from './harness.ts'

afterEach(cleanupAgents)

const MODEL = 'gemma-3-270m-Q4_K_M'

interface Ready {
  status: string
  checks: Record<string, boolean>
}

describe('readiness and the model a node serves', () => {
  it('says ready only once the model is in memory, and loading (503) until then', async () => {
    const a = await startAgent({
      args: ['--model', testModelPath(), '--provider', 'embedded', '--llama-threads', '1'],
      timeoutMs: 60_000,
    })
    const before: Ready[] = []
    let ready: Ready
    for (;;) {
      const res = await a.api('/readyz')
      const body = (await res.json()) as Ready
      if (res.status === 200) {
        ready = body
        break
      }
      expect(res.status).toBe(503)
      before.push(body)
    }
    for (const r of before) expect(r).toMatchObject({ status: 'loading', checks: { model: false } })
    expect(ready).toEqual({ status: 'ready', checks: { store: true, api: true, model: true } })
    // No request has asked for the model: it was loaded at start.
    const ps = (await (await a.api('/api/ps')).json()) as { models: { name: string }[] }
    expect(ps.models.map((m) => m.name)).toEqual([`${MODEL}:latest`])
  }, 90_000)

  it('is ready at once, with no model check, on a node without a model', async () => {
    const a = await startAgent()
    const res = await a.api('/readyz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ready', checks: { store: true, api: true } })
    expect(((await (await a.api('/api/ps')).json()) as { models: unknown[] }).models).toEqual([])
  })
})
