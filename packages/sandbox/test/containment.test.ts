import { randomBytes } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SandboxPool } from '../src/index.ts'
import { expectHealthy, runners } from './helpers.ts'

const pool = new SandboxPool({ deadlineMs: 5_000 })
const { py, js } = runners(pool)

// A host file with a secret in it, and a host port that counts every connection made to it.
const secret = `sandbox-secret-${randomBytes(8).toString('hex')}`
const secretFile = join(tmpdir(), `${secret}.txt`)
let server: Server
let port = 0
/** The remote port of every connection the host port accepted, in the order it accepted them. */
const accepted: number[] = []
let onAccept: (() => void) | undefined

beforeAll(async () => {
  writeFileSync(secretFile, secret)
  server = createServer((socket) => {
    accepted.push(socket.remotePort!)
    socket.destroy()
    onAccept?.()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
  await pool.start()
}, 60_000)

afterAll(async () => {
  await pool.stop()
  server?.close()
  rmSync(secretFile, { force: true })
})

describe('host access', () => {
  it('gives Python no host files', async () => {
    const code = [
      'import os',
      'print(sorted(os.listdir("/")))',
      `for path in ("/etc/passwd", ${JSON.stringify(secretFile)}, "/proc/self/environ"):`,
      '    try:',
      '        print(open(path).read())',
      '    except OSError as e:',
      '        print("refused", type(e).__name__)',
      'try:',
      '    open("/lib/python314.zip", "wb")',
      'except OSError as e:',
      '    print("refused", type(e).__name__)',
    ].join('\n')
    const report = await py(code)
    expect(report.output).not.toContain(secret)
    expect(report.output).not.toContain('root:')
    expect(report.output).not.toMatch(/'(etc|usr|work|root|var)'/)
    expect(report.output.match(/refused/g)?.length).toBeGreaterThanOrEqual(3)
  })

  it('gives Python an empty environment', async () => {
    const report = await py('import os\nprint(dict(os.environ))')
    expect(report.output).toBe('{}\n')
  })

  it.each([
    "import os\nos.system('id')",
    "import os\nos.popen('id').read()",
    "import subprocess\nsubprocess.run(['id'])",
    "import subprocess\nsubprocess.check_output('id', shell=True)",
    'import os\nos.fork()',
    'import os\nos.kill(1, 9)',
  ])('refuses to start processes from Python: %j', async (code) => {
    const report = await py(code)
    expect(report.outcome).toBe('error')
    expect(report.output).not.toContain('uid=')
    await expectHealthy(pool, 'python')
  })

  it('lets Python open no network connection', async () => {
    const attempts = [
      `socket.create_connection(("127.0.0.1", ${port}), timeout=1)`,
      `_socket.socket().connect(("127.0.0.1", ${port}))`,
      `urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=1)`,
      'socket.getaddrinfo("example.com", 80)',
    ]
    const code = [
      'import socket, _socket, urllib.request',
      ...attempts.flatMap((attempt) => [
        'try:',
        `    ${attempt}`,
        '    print("CONNECTED")',
        'except Exception as e:',
        '    print("refused", type(e).__name__)',
      ]),
    ].join('\n')
    const report = await py(code)
    expect(report.output).not.toContain('CONNECTED')
    expect(report.output.match(/refused/g)?.length).toBe(attempts.length)
    // A marker connection from the test itself, once the guest is done: the host port accepts in
    // arrival order, so a guest connection that got through would have been accepted before it.
    const marker = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s)).on('error', reject)
    })
    const markerPort = marker.localPort!
    while (!accepted.includes(markerPort)) await new Promise<void>((r) => (onAccept = r))
    marker.destroy()
    expect(accepted).toEqual([markerPort])
  })

  it('keeps the modules that lead to JavaScript out of reach', async () => {
    for (const module of ['js', 'pyodide_js', 'pyodide.ffi', 'pyodide.code', 'ctypes']) {
      const report = await py(`import ${module}`)
      expect(report.error, module).toContain('ModuleNotFoundError')
    }
  })

  it('holds even when Python digs the FFI out of the garbage collector', async () => {
    const code = `
import gc, sys
ffi = {getattr(o, '__name__', None): o for o in gc.get_objects() if type(o).__name__ == 'module' and getattr(o, '__name__', None) in ('_pyodide_core', 'pyodide.code', 'pyodide.ffi')}
sys.meta_path[:] = [m for m in sys.meta_path if getattr(m, '__name__', '') != 'BlockedImports']
def attempt(label, fn):
    try:
        print('ESCAPED', label, repr(fn())[:100])
    except BaseException as e:
        print('refused', label, type(e).__name__)
core = lambda: ffi.get('_pyodide_core') or __import__('_pyodide_core')
attempt('Function', lambda: core().to_js([1]).constructor.constructor('return process.pid')())
attempt('eval', lambda: ffi['pyodide.code'].run_js('process.pid'))
attempt('proxy', lambda: core().create_proxy(print).constructor('return process.pid')())
`
    const report = await py(code)
    expect(report.output).not.toContain('ESCAPED')
    expect(report.output.match(/refused/g)?.length).toBe(3)
    // the import blocker it removed is back for the next run
    expect((await py('import js')).error).toContain('ModuleNotFoundError')
    await expectHealthy(pool, 'python')
  })

  it('gives JavaScript nothing from the host', async () => {
    const code = [
      'print(typeof fetch, typeof require, typeof process, typeof setImmediate, typeof WebAssembly, typeof Buffer)',
      "print(Function('return typeof process')())",
      "try { require('fs') } catch (e) { print(e.name) }",
      'try { process.exit(1) } catch (e) { print(e.name) }',
      "import('fs').then(() => print('IMPORTED'), (e) => print('import refused'))",
    ].join('\n')
    const report = await js(code)
    expect(report.output).toBe(
      'undefined undefined undefined undefined undefined undefined\nundefined\nReferenceError\nReferenceError\nimport refused\n',
    )
  })
})

describe('tampering', () => {
  it('does not let JavaScript prototype tampering change the count or the next run', async () => {
    const code = [
      "Object.prototype.toString = () => 'tampered'",
      'Array.prototype.push = null',
      'Function.prototype.call = null',
      'Function.prototype.apply = null',
      'Promise.prototype.then = null',
      'JSON.stringify = () => { throw new Error("no") }',
      'Object.keys = () => []',
      'globalThis.test = () => {}',
      'globalThis.assert = () => {}',
    ].join('\n')
    const tests = [
      "test('one', () => assert.equal(1, 1))",
      "test('two', () => assert.deepEqual({ a: [1, 2] }, { a: [1, 2] }))",
      "test('three', () => assert.deepEqual({ a: 1 }, { a: 2 }))",
    ].join('\n')
    const report = await js(code, tests)
    expect(report).toMatchObject({ outcome: 'failed', passed: 2, failed: 1, total: 3 })
    const next = await js('const a = []; a.push(1); print(String({}), JSON.stringify(a))')
    expect(next.output).toBe('[object Object] [1]\n')
  })

  it('does not let Python monkeypatching change the count or the next run', async () => {
    const code = [
      'import builtins, unittest',
      'builtins.len = lambda x: 0',
      'builtins.isinstance = lambda *a: False',
      'builtins.print = None',
      'unittest.TestCase.run = lambda self, result=None: None',
      'unittest.TestResult.addFailure = lambda *a: None',
      'unittest.main = None',
    ].join('\n')
    const tests = [
      'import unittest',
      'class T(unittest.TestCase):',
      '    def test_ok(self):',
      '        self.assertEqual(1, 1)',
      '    def test_bad(self):',
      '        self.assertEqual(1, 2)',
    ].join('\n')
    const report = await py(code, tests)
    expect(report).toMatchObject({ outcome: 'failed', passed: 1, failed: 1, total: 2 })
    const next = await py('import unittest\nprint(len([1, 2]), isinstance(1, int), unittest.main.__name__)')
    expect(next.output).toBe('2 True TestProgram\n')
  })

  it('survives os._exit and keeps working', async () => {
    const report = await py('import os\nos._exit(0)')
    expect(report.outcome).toBe('passed')
    await expectHealthy(pool, 'python')
  })
})
