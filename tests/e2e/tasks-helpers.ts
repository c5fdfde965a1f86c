import type { TaskEvent, TaskRecord, TaskSpecInput, TaskStatus } from '@edgecoder/protocol'
import type { AgentProcess } from './harness.ts'

const FINAL: TaskStatus[] = ['succeeded', 'failed', 'cancelled']

/** `POST /tasks`; returns the status code, the body and the Retry-After header. */
export async function submit(
  agent: AgentProcess,
  spec: TaskSpecInput | Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
  const res = await agent.api('/tasks', { method: 'POST', json: spec })
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    retryAfter: res.headers.get('retry-after'),
  }
}

/** Submits and returns the new task's id, failing loudly if the agent refused it. */
export async function submitOk(agent: AgentProcess, spec: TaskSpecInput): Promise<string> {
  const r = await submit(agent, spec)
  if (r.status !== 202) throw new Error(`POST /tasks answered ${r.status}: ${JSON.stringify(r.body)}`)
  return r.body.id as string
}

export async function getTask(agent: AgentProcess, id: string): Promise<TaskRecord> {
  const res = await agent.api(`/tasks/${id}`)
  if (res.status !== 200) throw new Error(`GET /tasks/${id} answered ${res.status}`)
  return (await res.json()) as TaskRecord
}

/** Polls until the task is in one of `statuses` (default: any final one). */
export async function waitForStatus(
  agent: AgentProcess,
  id: string,
  statuses: TaskStatus[] = FINAL,
  timeoutMs = 30_000,
): Promise<TaskRecord> {
  const deadline = Date.now() + timeoutMs
  let last: TaskRecord | undefined
  while (Date.now() < deadline) {
    last = await getTask(agent, id)
    if (statuses.includes(last.status)) return last
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(
    `task ${id} not ${statuses.join('|')} within ${timeoutMs} ms (is ${last?.status})\n${agent.stderr().slice(-3000)}`,
  )
}

/** Reads `GET /tasks/:id/events` until the server ends the stream (after `done`). */
export async function readTaskEvents(
  agent: AgentProcess,
  id: string,
  opts: { timeoutMs?: number; lastEventId?: string; onEvent?: (ev: TaskEvent) => void } = {},
): Promise<TaskEvent[]> {
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 60_000)
  const headers: Record<string, string> = {}
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId
  const res = await agent.api(`/tasks/${id}/events`, { signal, headers })
  if (res.status !== 200) throw new Error(`GET /tasks/${id}/events answered ${res.status}`)
  const events: TaskEvent[] = []
  const decoder = new TextDecoder()
  let buf = ''
  for await (const chunk of res.body!) {
    buf += decoder.decode(chunk, { stream: true })
    for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
      const block = buf.slice(0, end)
      buf = buf.slice(end + 2)
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (!data) continue
      const ev = JSON.parse(data) as TaskEvent
      const name = /^event: (.*)$/m.exec(block)?.[1]
      if (name !== ev.type) throw new Error(`SSE event name ${name} does not match its data type ${ev.type}`)
      events.push(ev)
      opts.onEvent?.(ev)
    }
  }
  return events
}

/** A solution and tests with known counts, in both languages. */
export const SOLUTIONS = {
  python: {
    tests: [
      'import unittest',
      'class TestAdd(unittest.TestCase):',
      '    def test_positive(self):',
      '        self.assertEqual(add(2, 3), 5)',
      '    def test_negative(self):',
      '        self.assertEqual(add(-1, 1), 0)',
      '    def test_zero(self):',
      '        self.assertEqual(add(0, 0), 0)',
    ].join('\n'),
    passing: 'def add(a, b):\n    return a + b\n',
    // a - b: wrong for (2, 3) and (-1, 1), right for (0, 0).
    failing: 'def add(a, b):\n    return a - b\n',
  },
  javascript: {
    tests: [
      "test('positive', () => assert.equal(add(2, 3), 5))",
      "test('negative', () => assert.equal(add(-1, 1), 0))",
      "test('zero', () => assert.equal(add(0, 0), 0))",
    ].join('\n'),
    passing: 'function add(a, b) {\n  return a + b\n}\n',
    failing: 'function add(a, b) {\n  return a - b\n}\n',
  },
} as const
