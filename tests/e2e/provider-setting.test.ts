import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, runCli, startAgent, waitFor } from './harness.ts'

/**
 * The inference provider as a run-time setting. `server` serves the test model over its
 * OpenAI-compatible API; `a` knows it as its `--openai-base-url` and starts on embedded llama.cpp.
 */
const MODEL = 'gemma-3-270m-Q4_K_M'
let server: AgentProcess
let a: AgentProcess

beforeAll(async () => {
  server = await startAgent({
    args: ['--model', testModelPath(), '--provider', 'embedded'],
    timeoutMs: 60_000,
  })
  a = await startAgent({
    args: ['--provider', 'embedded', '--openai-base-url', `${server.apiUrl}/v1`],
    timeoutMs: 60_000,
  })
}, 120_000)

afterAll(cleanupAgents)

const runtimeOf = async (x: AgentProcess) =>
  (await (await x.api('/health/runtime')).json()) as { provider: { name: string; reason: string } }
const modelsOf = async (x: AgentProcess) =>
  (await (await x.api('/model/list')).json()) as { provider: string; models: { name: string }[] }
const put = (x: AgentProcess, json: unknown) => x.api('/orchestration/settings', { method: 'PUT', json })

describe('the provider setting', () => {
  it('switches the provider live: the node then serves the other server’s models', async () => {
    expect((await runtimeOf(a)).provider.name).toBe('embedded')
    expect((await modelsOf(a)).models).toEqual([])
    const res = await put(a, { provider: 'openai' })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { provider: string }).provider).toBe('openai')
    await waitFor(async () => (await runtimeOf(a)).provider.name === 'openai-compatible', 10_000, 50)
    await waitFor(async () => (await modelsOf(a)).models.some((m) => m.name === MODEL), 10_000, 100)
    expect((await modelsOf(a)).provider).toBe('openai-compatible')
    const back = await runCli(['config', 'set', 'provider', 'embedded', '--api-url', a.apiUrl])
    expect(back.code, back.stderr).toBe(0)
    await waitFor(async () => (await runtimeOf(a)).provider.name === 'embedded', 10_000, 50)
    expect((await modelsOf(a)).models).toEqual([])
  })

  it('refuses a provider the node has no address for, and an unknown one, changing nothing', async () => {
    const before = (await (await server.api('/orchestration/settings')).json()) as Record<string, unknown>
    const res = await put(server, { provider: 'openai' })
    expect(res.status).toBe(409)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('setting_refused')
    expect(body.error.message).toContain('--openai-base-url')
    expect((await put(server, { provider: 'vllm' })).status).toBe(400)
    expect(await (await server.api('/orchestration/settings')).json()).toEqual(before)
    expect((await runtimeOf(server)).provider.name).toBe('embedded')
  })
})
