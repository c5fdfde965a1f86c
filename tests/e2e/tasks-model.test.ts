import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TaskEvent, TaskRecord } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, runCli, startAgent, tempDataDir } from './harness.ts'
import { getTask, readTaskEvents, submitOk, waitForStatus } from './tasks-helpers.ts'

// Real inference on shared CPUs: a code task with a plan and two attempts can take minutes.
const MODEL_TIMEOUT_MS = 540_000

let agent: AgentProcess
let modelPath: string

beforeAll(async () => {
  // Fails (never skips) with the reason when the real model cannot be had.
  modelPath = testModelPath()
  agent = await startAgent({ args: ['--model', modelPath, '--max-concurrent-tasks', '1'], timeoutMs: 60_000 })
}, 120_000)
afterAll(cleanupAgents)

describe('a code task on the real model', () => {
  it(
    'goes through the loop: the sandbox ran the model’s code against the tests, and the report says what happened',
    async () => {
      const dir = tempDataDir('edgecoder-model-')
      const tests = 'assert is_palindrome("abba") == True\nassert is_palindrome("abc") == False\n'
      writeFileSync(join(dir, 'tests.py'), tests)
      const prompt =
        'Write a Python function is_palindrome(s) that returns True when the string s reads the same backwards.'

      // Submitted through the CLI, which follows the task's events live.
      const cli = await runCli(
        ['submit', 'code', prompt, '--tests', join(dir, 'tests.py'), '--max-attempts', '2'],
        { EDGECODER_API_URL: agent.apiUrl },
      )
      const id = /^task ([0-9a-f-]{36}) queued$/m.exec(cli.stderr)?.[1]
      expect(id, cli.stderr).toBeDefined()
      const task = await getTask(agent, id!)
      expect(['succeeded', 'failed']).toContain(task.status)
      expect(cli.code, cli.stderr).toBe(task.status === 'succeeded' ? 0 : 1)
      expect(cli.stderr).toMatch(/^started \(run 1\)$/m)
      expect(cli.stderr).toMatch(/^attempt 1: \d+ tokens, \d+ lines of code$/m)
      expect(cli.stderr).toMatch(/^attempt 1: tests (passed|failed|error|timeout)/m)

      const r = task.result!
      expect(r.model).toBe('gemma-3-270m-Q4_K_M')
      expect(r.attempts.length).toBeGreaterThanOrEqual(1)
      expect(r.attempts.length).toBeLessThanOrEqual(2)
      // The plan came first, and its tokens count with the attempts'.
      expect(r.plan).toMatch(/^1\./)
      expect(r.tokens.completion).toBeGreaterThan(r.attempts.reduce((n, a) => n + a.tokens.completion, 0))
      for (const a of r.attempts) {
        expect(a.tokens.completion).toBeGreaterThan(0)
        expect(a.response.length).toBeGreaterThan(0)
        expect(a.modelMs).toBeGreaterThan(0)
      }
      // Only the last attempt may pass: the loop stops at the first success.
      for (const a of r.attempts.slice(0, -1)) expect(a.report.outcome).not.toBe('passed')

      // The report is what the sandbox says about that code: run each attempt's code again as a
      // `run` task against the same tests and compare.
      for (const a of r.attempts) {
        if (a.code === '') continue
        const rerun = await waitForStatus(
          agent,
          await submitOk(agent, { kind: 'run', language: 'python', code: a.code, tests }),
        )
        const again = rerun.result!.report!
        expect(
          { outcome: again.outcome, passed: again.passed, failed: again.failed, total: again.total },
          a.code,
        ).toEqual({
          outcome: a.report.outcome,
          passed: a.report.passed,
          failed: a.report.failed,
          total: a.report.total,
        })
      }
      // The verdict is the sandbox's, not the model's.
      const final = r.attempts.find((a) => a.report.outcome === 'passed') ?? r.attempts.at(-1)!
      expect(task.status).toBe(final.report.outcome === 'passed' ? 'succeeded' : 'failed')
      expect(r.report!.outcome === 'passed').toBe(task.status === 'succeeded')
      if (task.status === 'failed') expect(task.error!.code).toBe('tests_failed')

      // The events told the same story as the stored result.
      const events = await readTaskEvents(agent, id!)
      const attempts = events.filter((e) => e.type === 'attempt').map((e) => e.data.code)
      expect(attempts).toEqual(r.attempts.map((a) => a.code))
      const results = events
        .filter((e) => e.type === 'test-result')
        .map((e) => [e.data.passed, e.data.failed])
      expect(results).toEqual(r.attempts.map((a) => [a.report.passed, a.report.failed]))
      expect(events.at(-1)).toMatchObject({ type: 'done', data: { status: task.status } })
    },
    MODEL_TIMEOUT_MS,
  )
})

describe('a chat task on the real model', () => {
  it(
    'streams tokens that add up to the stored answer',
    async () => {
      const id = await submitOk(agent, {
        kind: 'chat',
        messages: [{ role: 'user', content: 'Name three colours.' }],
        maxTokens: 24,
        temperature: 0,
      })
      const tokens: string[] = []
      const events = await readTaskEvents(agent, id, {
        timeoutMs: MODEL_TIMEOUT_MS,
        onEvent: (ev: TaskEvent) => {
          if (ev.type === 'token') tokens.push(String(ev.data.text))
        },
      })
      const task: TaskRecord = await getTask(agent, id)
      expect(task.status).toBe('succeeded')
      expect(tokens.length).toBeGreaterThan(0)
      expect(tokens.join('')).toBe(task.result!.text)
      expect(task.result!.tokens.completion).toBeGreaterThan(0)
      expect(task.result!.tokens.completion).toBeLessThanOrEqual(24)
      expect(events.map((e) => e.type).filter((t) => t !== 'token')).toEqual(['queued', 'started', 'done'])
      const rt = (await (await agent.api('/health/runtime')).json()) as {
        provider: { name: string } | null
        model: { name: string } | null
      }
      expect(rt.provider?.name).toBe('embedded')
      expect(rt.model?.name).toBe('gemma-3-270m-Q4_K_M')
    },
    MODEL_TIMEOUT_MS,
  )

  it(
    'cancels a running chat: the model stops and the task is cancelled',
    async () => {
      const id = await submitOk(agent, {
        kind: 'chat',
        messages: [{ role: 'user', content: 'Write a very long story about the sea.' }],
        maxTokens: 4_000,
      })
      // Wait until the model is generating.
      await new Promise<void>((resolve, reject) => {
        readTaskEvents(agent, id, {
          timeoutMs: MODEL_TIMEOUT_MS,
          onEvent: (ev) => ev.type === 'token' && resolve(),
        }).catch(reject)
      })
      const t0 = Date.now()
      const del = await agent.api(`/tasks/${id}`, { method: 'DELETE' })
      expect(del.status).toBe(200)
      expect(((await del.json()) as TaskRecord).status).toBe('cancelled')
      expect(Date.now() - t0).toBeLessThan(5_000)
      // The model is free again: a short chat completes.
      const next = await waitForStatus(
        agent,
        await submitOk(agent, { kind: 'chat', messages: [{ role: 'user', content: 'Hi' }], maxTokens: 4 }),
        undefined,
        MODEL_TIMEOUT_MS,
      )
      expect(next.status).toBe('succeeded')
    },
    MODEL_TIMEOUT_MS,
  )
})

describe('without a model', () => {
  it('fails code and chat tasks with a clear error, while run tasks work', async () => {
    const a = await startAgent()
    const code = await submitOk(a, { kind: 'code', language: 'python', prompt: 'add two numbers' })
    const chat = await submitOk(a, { kind: 'chat', messages: [{ role: 'user', content: 'hi' }] })
    const run = await submitOk(a, { kind: 'run', language: 'python', code: 'x = 1', tests: 'assert x == 1' })
    for (const id of [code, chat]) {
      const t = await waitForStatus(a, id)
      expect(t.status).toBe('failed')
      expect(t.error!.code).toBe('no_model')
      expect(t.error!.message).toMatch(/--model/)
    }
    expect((await waitForStatus(a, run)).status).toBe('succeeded')
    const rt = (await (await a.api('/health/runtime')).json()) as { model: unknown }
    expect(rt.model).toBeNull()
  })
})
