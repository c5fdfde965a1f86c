// Runs inside a sandbox worker thread once its interpreter is loaded. A worker thread has
// its own copies of Node's built-in modules and globals, so taking host access away here
// changes nothing for the agent's main thread. The guest interpreters are the first wall;
// this is the second, for guest code that finds a way into the worker's JavaScript.

import { createRequire, syncBuiltinESMExports } from 'node:module'

const HOST_MODULES = [
  'fs',
  'fs/promises',
  'child_process',
  'net',
  'tls',
  'http',
  'https',
  'http2',
  'dgram',
  'dns',
  'dns/promises',
  'vm',
  'worker_threads',
  'inspector',
  'v8',
  'cluster',
  'os',
]
const PROCESS_CALLS = [
  'binding',
  '_linkedBinding',
  'dlopen',
  'kill',
  'chdir',
  'getBuiltinModule',
  'loadEnvFile',
  'execve',
  'setuid',
  'setgid',
  'umask',
]
const HOST_GLOBALS = ['process', 'fetch', 'WebSocket', 'EventSource', 'BroadcastChannel', 'require']

function denied(what: string): () => never {
  return () => {
    throw new Error(`${what} is not available in the sandbox`)
  }
}

/** What the guest gets back when it asks to spawn a process: exit status 127, no process. */
function refusedSpawn(): { status: number; signal: null; pid: number; output: null } {
  return { status: 127, signal: null, pid: 0, output: null }
}

function replaceFunctions(target: Record<string, unknown>, name: string): void {
  for (const key of Object.getOwnPropertyNames(target)) {
    // Accessors are skipped: reading them may warn, and none hands out host access.
    const property = Object.getOwnPropertyDescriptor(target, key)
    if (typeof property?.value !== 'function') continue
    const deny = denied(`${name}.${key}`)
    // A proxy keeps `prototype`, so Node's own lazily loaded code can still subclass it.
    const stub =
      name === 'child_process' && key === 'spawnSync'
        ? refusedSpawn
        : new Proxy(property.value as () => unknown, { apply: deny, construct: deny })
    try {
      Object.defineProperty(target, key, { value: stub, writable: false, configurable: false })
    } catch {
      // a non-configurable property keeps its value; the guest has no reference to it anyway
    }
  }
}

/**
 * Replaces a package's exports in this thread's module cache, so code that requires it
 * later gets the replacement (Pyodide requires `ws` each time a socket connects).
 */
export function replacePackage(fromFile: string, name: string, exports: unknown): void {
  const require = createRequire(fromFile)
  const path = require.resolve(name)
  require(name)
  const cached = require.cache[path]
  if (cached) cached.exports = exports
}

/** The part of `WebAssembly.Memory` used here (the project's `lib` has no WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer
  grow(pages: number): number
}
const WASM_PAGE_BYTES = 65536

/** Refuses to let any wasm memory of this thread grow beyond `limitBytes`. */
export function capWasmMemory(limitBytes: number): void {
  const wasm = (globalThis as unknown as { WebAssembly: { Memory: { prototype: WasmMemory } } }).WebAssembly
  const proto = wasm.Memory.prototype
  const grow = proto.grow
  // Emscripten grows its heap through this method and turns a refusal into a failed
  // malloc: a MemoryError in Python, an out-of-memory error in QuickJS.
  proto.grow = function (this: WasmMemory, pages: number): number {
    const buffer = this.buffer
    if (!(buffer instanceof SharedArrayBuffer) && buffer.byteLength + pages * WASM_PAGE_BYTES > limitBytes) {
      throw new RangeError('sandbox memory limit reached')
    }
    return grow.call(this, pages)
  }
}

/**
 * Takes host access out of this worker's JavaScript realm: the file system, processes,
 * network, code generation from strings and the `process` object. Call it after the
 * interpreter has loaded and after taking whatever the worker itself still needs.
 */
export function lockDownWorker(): void {
  const require = createRequire(import.meta.url)
  // Load them all before closing any: loading one may use another.
  const modules = HOST_MODULES.map((name) => [name, require(name)] as const)
  for (const [name, exports] of modules) replaceFunctions(exports, name)
  // Node's own loader calls into `module`, so only the entry points that load code are closed.
  const loader = require('node:module') as Record<string, unknown>
  for (const key of ['createRequire', 'register', 'registerHooks']) loader[key] = denied(`module.${key}`)
  const proc = globalThis.process as unknown as Record<string, unknown>
  for (const key of PROCESS_CALLS) {
    if (typeof proc[key] === 'function') proc[key] = denied(`process.${key}`)
  }
  syncBuiltinESMExports()

  const noCodeGeneration = denied('code generation from strings')
  const FunctionProxy = new Proxy(Function, { apply: noCodeGeneration, construct: noCodeGeneration })
  for (const fn of [() => {}, async () => {}, function* () {}, async function* () {}]) {
    const proto = Object.getPrototypeOf(fn)
    Object.defineProperty(proto, 'constructor', {
      value: FunctionProxy,
      writable: false,
      configurable: false,
    })
  }
  const g = globalThis as Record<string, unknown>
  g.Function = FunctionProxy
  g.eval = noCodeGeneration
  for (const name of HOST_GLOBALS) delete g[name]
}
