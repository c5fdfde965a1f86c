import type { RuntimeHealth, TaskRecord } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents } from './harness.ts'
import { tcpAddr } from './mesh-helpers.ts'
import { expectMeshed, startNode } from './routing-helpers.ts'
import { submitOk, waitForStatus } from './tasks-helpers.ts'

/**
 * Hostile code against a real node, sent by its own user and by a peer through the mesh: each
 * attempt is contained, and the executing agent's own memory stays flat throughout.
 */
let executor: AgentProcess
let peer: AgentProcess

const runtime = async (a: AgentProcess): Promise<RuntimeHealth> =>
  (await (await a.api('/health/runtime')).json()) as RuntimeHealth

async function run(via: AgentProcess, language: 'python' | 'javascript', code: string): Promise<TaskRecord> {
  const id = await submitOk(via, { kind: 'run', language, code, deadlineMs: 5_000 })
  return waitForStatus(via, id, undefined, 120_000)
}

beforeAll(async () => {
  executor = await startNode('all-in-one', ['--max-concurrent-tasks', '2'])
  peer = await startNode('coordinator', ['--bootstrap', tcpAddr(executor)])
  await expectMeshed([executor, peer])
}, 120_000)
afterAll(cleanupAgents)

const HOSTILE: {
  name: string
  language: 'python' | 'javascript'
  code: string
  contained: (t: TaskRecord) => void
}[] = [
  {
    name: 'walks the garbage collector to the import hook and its JS modules',
    language: 'python',
    code: `import gc
found = [type(o).__name__ for o in gc.get_objects() if type(o).__name__ == 'JsFinder' and getattr(o, 'jsproxies', None)]
found += [o.__name__ for o in gc.get_objects() if type(o).__name__ == 'module' and getattr(o, '__name__', '') in ('js', 'pyodide_js', '_pyodide._importhook')]
print('found', found)`,
    contained: (t) => expect(t.result?.report?.output).toBe('found []\n'),
  },
  {
    name: 'builds a JavaScript Error through the proxy class it can name',
    language: 'python',
    code: `klass = next(k for k in Exception.__subclasses__() if k.__name__ == 'JsException')
try:
    klass('x')
    print('MADE')
except TypeError as e:
    print('refused', e)`,
    contained: (t) => expect(t.result?.report?.output).toMatch(/^refused JavaScript objects cannot be made/),
  },
  {
    name: 'allocates beyond the memory limit',
    language: 'python',
    code: 'held = [bytearray(64 * 2**20) for _ in range(64)]',
    contained: (t) => expect(t.result?.report?.outcome).toBe('memory'),
  },
  {
    name: 'reads the agent’s data dir and API token',
    language: 'python',
    code: '',
    contained: (t) => expect(t.result?.report?.output).toMatch(/^(FileNotFoundError|PermissionError)/),
  },
  {
    name: 'reaches the agent’s API over loopback',
    language: 'python',
    code: '',
    contained: (t) => expect(t.result?.report?.output).toMatch(/^refused PermissionError/),
  },
  {
    name: 'forks and execs',
    language: 'python',
    code: `import os, subprocess
for attempt in (os.fork, lambda: subprocess.run(['id']), lambda: os.execv('/bin/sh', ['sh'])):
    try:
        attempt()
        print('STARTED')
    except OSError:  # PermissionError, or Emscripten's own refusal
        print('refused')`,
    contained: (t) => expect(t.result?.report?.output).toBe('refused\nrefused\nrefused\n'),
  },
  {
    name: 'spins forever in JavaScript',
    language: 'javascript',
    code: 'for (;;) {}',
    contained: (t) => expect(t.result?.report?.outcome).toBe('timeout'),
  },
  {
    name: 'allocates beyond the memory limit in JavaScript',
    language: 'javascript',
    code: 'const held = []; for (;;) held.push(new Array(1e6).fill(held.length))',
    contained: (t) => expect(t.result?.report?.outcome).toBe('memory'),
  },
]

describe('hostile code', () => {
  it('is contained whether the node’s user or a peer sends it, and the agent’s memory stays flat', async () => {
    const { dataDir, ready } = executor
    const port = new URL(ready.apiUrl).port
    HOSTILE[3]!.code = `try:
    print(open(${JSON.stringify(`${dataDir}/api-token`)}).read())
except OSError as e:
    print(type(e).__name__)`
    HOSTILE[4]!.code = `import socket
try:
    socket.create_connection(('127.0.0.1', ${port}), timeout=2)
    print('CONNECTED')
except OSError as e:
    print('refused', type(e).__name__)`
    // Warm both languages first: the baseline is the agent with its sandbox processes running.
    await run(executor, 'python', 'pass')
    await run(executor, 'javascript', '')
    const before = await runtime(executor)
    expect(before.sandbox).toMatchObject({ mechanism: 'bubblewrap', confined: true, peerCodeAllowed: true })
    for (const via of [executor, peer]) {
      for (const attempt of HOSTILE) {
        const task = await run(via, attempt.language, attempt.code)
        expect(
          task.result?.report,
          `${attempt.name} via ${via === peer ? 'a peer' : 'the user'}`,
        ).toBeTruthy()
        attempt.contained(task)
        if (via === peer) expect(task.executor?.peerId).toBe(executor.ready.peerId)
      }
    }
    const after = await runtime(executor)
    const grew = (after.agentRssBytes! - before.agentRssBytes!) / 2 ** 20
    expect(grew, `agent RSS ${before.agentRssBytes} -> ${after.agentRssBytes}`).toBeLessThan(40)
    // The guest's memory was the sandbox's: its processes are reported apart from the agent.
    expect(after.sandbox!.processes.length).toBeGreaterThan(0)
    for (const p of after.sandbox!.processes) expect(p.pid).not.toBe(executor.ready.pid)
  }, 600_000)
})
