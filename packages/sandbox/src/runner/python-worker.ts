// Worker thread that keeps one Pyodide interpreter warm and runs Python requests in it.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parentPort, workerData } from 'node:worker_threads'
import { loadPyodide, type PyodideInterface } from 'pyodide'
import { capWasmMemory, lockDownWorker, replacePackage } from './lockdown.ts'
import {
  OutputSink,
  type RunMessage,
  Slot,
  type WorkerInit,
  type WorkerMessage,
  type WorkerResult,
} from './protocol.ts'

const HARNESS_FILES = ['harden.py', 'event_loop.py', 'state.py', 'harness.py']

const init = workerData as WorkerInit
const port = parentPort!
const control = new Int32Array(init.control)
const post = (message: WorkerMessage): void => port.postMessage(message)

/** A Python callable as Pyodide hands it to JavaScript. */
type PyRun = (code: string, tests: string) => string

async function load(): Promise<PyRun> {
  const here = dirname(fileURLToPath(import.meta.url))
  const harness = HARNESS_FILES.map(
    (name) => [name, readFileSync(join(here, 'python', name), 'utf8')] as const,
  )
  const pyodideEntry = createRequire(import.meta.url).resolve('pyodide/pyodide.mjs')
  const indexURL = `${dirname(pyodideEntry)}/`

  capWasmMemory(init.memoryLimitBytes)
  const discard = (): void => {}
  const py: PyodideInterface = await loadPyodide({
    indexURL,
    env: {},
    args: [],
    // The `js` module would be the worker's globalThis; give it nothing.
    jsglobals: Object.create(null),
    stdout: discard,
    stderr: discard,
  })
  const sink = new OutputSink(init.control, init.output, discard)
  const writer = {
    isatty: false,
    write: (chunk: Uint8Array): number => {
      sink.writeBytes(chunk)
      return chunk.length // claimed even when dropped, so Python does not retry
    },
  }
  py.setStdout(writer)
  py.setStderr(writer)
  py.setStdin({ stdin: () => null })
  py.setInterruptBuffer(control.subarray(Slot.interrupt, Slot.interrupt + 1))

  closeEmscriptenDoors(py, pyodideEntry)
  const globals = py.runPython('dict')()
  let entry: PyRun | undefined
  for (const [name, source] of harness)
    entry = py.runPython(source, { globals, filename: `<sandbox:${name}>` })
  // Called from here, not from Python run by runPython: none of Pyodide's frames may be live.
  const sever = globals.get('sever_javascript') as () => void
  sever()
  globals.delete('sever_javascript')
  closeProxyConstructors(py)
  lockDownWorker()
  return entry!
}

/** Emscripten's own routes to the host: shelling out, WebSocket sockets, host mounts. */
function closeEmscriptenDoors(py: PyodideInterface, pyodideEntry: string): void {
  const FS = py.FS as { ErrnoError: new (errno: number) => Error; filesystems: Record<string, unknown> }
  const EHOSTUNREACH = 23
  function NoSockets(): never {
    throw new FS.ErrnoError(EHOSTUNREACH)
  }
  NoSockets.Server = NoSockets
  replacePackage(join(dirname(pyodideEntry), 'pyodide.asm.mjs'), 'ws', NoSockets)
  for (const name of Object.keys(FS.filesystems)) {
    if (name !== 'MEMFS') delete FS.filesystems[name]
  }
  const api = py as unknown as Record<string, unknown>
  for (const name of ['mountNodeFS', 'mountNativeFS', 'loadPackage', 'loadPackagesFromImports']) {
    if (name in api) api[name] = undefined
  }
}

/** The parts of Emscripten's module used to raise a Python exception from JavaScript. */
interface EmscriptenModule {
  HEAPU32: Uint32Array
  _PyExc_TypeError: number
  _PyErr_SetString: (type: number, message: number) => void
  _free: (ptr: number) => void
  stringToNewUTF8: (text: string) => number
  _PropagatePythonError: new () => Error
}

/**
 * The proxy classes stay nameable from Python (`object.__subclasses__()`), and one of them makes
 * a JavaScript object: `JsException('x')` builds a JS Error through this hook. It now raises a
 * plain Python TypeError instead; a thrown JS error would reach Python as a proxy of itself.
 */
function closeProxyConstructors(py: PyodideInterface): void {
  const internals = py as unknown as { _api?: Record<string, unknown>; _module?: EmscriptenModule }
  const api = internals._api
  const module = internals._module
  if (typeof api?.deserializeError !== 'function' || !module?._PropagatePythonError)
    throw new Error('this Pyodide has no deserializeError hook to close')
  api.deserializeError = () => {
    const message = module.stringToNewUTF8('JavaScript objects cannot be made in the sandbox')
    module._PyErr_SetString(module.HEAPU32[module._PyExc_TypeError >>> 2]!, message)
    module._free(message)
    throw new module._PropagatePythonError()
  }
}

function runOnce(run: PyRun, message: RunMessage): WorkerResult {
  try {
    return JSON.parse(run(message.code, message.tests)) as WorkerResult
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error)
    // A KeyboardInterrupt that landed in the harness's own bookkeeping.
    if (Atomics.load(control, Slot.reason) !== 0 || /KeyboardInterrupt/.test(text)) {
      return { status: 'interrupted', passed: 0, failed: 0, total: 0, recycle: true }
    }
    const fatal = (error as { pyodide_fatal_error?: boolean }).pyodide_fatal_error === true
    return {
      status: 'exception',
      passed: 0,
      failed: 0,
      total: 0,
      error: fatal
        ? `the Python interpreter crashed: ${text.trim().split('\n')[0]}`
        : text.trim().split('\n').at(-1),
      recycle: true,
    }
  }
}

try {
  const run = await load()
  port.on('message', (message: RunMessage) => {
    const result = runOnce(run, message)
    post({ type: 'result', id: message.id, result })
  })
  post({ type: 'ready' })
} catch (error) {
  post({ type: 'fatal', message: error instanceof Error ? error.message : String(error) })
}
