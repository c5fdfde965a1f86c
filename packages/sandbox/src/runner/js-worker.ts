// Worker thread that runs JavaScript requests in QuickJS. The wasm module stays loaded;
// every run gets a fresh runtime and context, so nothing a run does survives it.

import { parentPort, workerData } from 'node:worker_threads'
import {
  newQuickJSWASMModule,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  RELEASE_SYNC,
} from 'quickjs-emscripten'
import { PRELUDE } from './js-prelude.ts'
import { TestTally, trimStack } from './js-tally.ts'
import { capWasmMemory, lockDownWorker } from './lockdown.ts'
import {
  OutputSink,
  type RunMessage,
  requestStop,
  Slot,
  StopReason,
  type WorkerInit,
  type WorkerMessage,
  type WorkerResult,
} from './protocol.ts'

/** QuickJS's own stack limit: deep recursion becomes a catchable error, long before the host's. */
const MAX_STACK_BYTES = 256 * 1024
/** Room for the module's own allocations on top of the runtime's limit. */
const WASM_HEADROOM_BYTES = 64 * 1024 * 1024

const init = workerData as WorkerInit
const port = parentPort!
const control = new Int32Array(init.control)
const sink = new OutputSink(init.control, init.output, () => {})
const post = (message: WorkerMessage): void => port.postMessage(message)

interface Failure {
  message: string
  stack: string
}

function stopRequested(deadline: number): boolean {
  if (Atomics.load(control, Slot.interrupt) !== 0) return true
  if (Date.now() < deadline) return false
  requestStop(control, StopReason.timeout)
  return true
}

function readString(vm: QuickJSContext, object: QuickJSHandle, key: string): string {
  const value = vm.getProp(object, key)
  try {
    return vm.typeof(value) === 'string' ? vm.getString(value) : ''
  } finally {
    value.dispose()
  }
}

/** Describes a thrown guest value without trusting it: getters may throw or be interrupted. */
function describe(vm: QuickJSContext, thrown: QuickJSHandle): Failure {
  try {
    if (vm.typeof(thrown) === 'object') {
      const name = readString(vm, thrown, 'name') || 'Error'
      return {
        message: `${name}: ${readString(vm, thrown, 'message')}`,
        stack: readString(vm, thrown, 'stack'),
      }
    }
    return { message: `thrown: ${String(vm.dump(thrown))}`, stack: '' }
  } catch {
    return { message: 'an exception that could not be read', stack: '' }
  } finally {
    thrown.dispose()
  }
}

function evaluate(vm: QuickJSContext, source: string, filename: string): Failure | undefined {
  const result = vm.evalCode(source, filename)
  if (result.error) return describe(vm, result.error)
  result.value.dispose()
  return undefined
}

/** Runs microtasks, then virtual timers one at a time, until none are left. */
function settle(vm: QuickJSContext, runtime: QuickJSRuntime, harness: QuickJSHandle, tally: TestTally): void {
  for (;;) {
    const jobs = runtime.executePendingJobs()
    if (jobs.error) {
      const failure = describe(vm, jobs.error)
      if (Atomics.load(control, Slot.reason) !== 0) return
      tally.noteError('uncaught', failure.message)
    } else {
      jobs.dispose()
    }
    if (runtime.hasPendingJob()) continue
    const nextTimer = vm.getProp(harness, 'nextTimer')
    const ran = vm.callFunction(nextTimer, harness)
    nextTimer.dispose()
    if (ran.error) {
      const failure = describe(vm, ran.error)
      if (Atomics.load(control, Slot.reason) !== 0) return
      if (tally.inTests) tally.failTopLevel(`uncaught in a timer: ${failure.message}`, failure.stack)
      else tally.noteError('uncaught in a timer', failure.message)
      continue
    }
    const more = vm.dump(ran.value) === true
    ran.value.dispose()
    if (!more) return
  }
}

function installPrelude(vm: QuickJSContext, tally: TestTally): QuickJSHandle {
  const prelude = vm.unwrapResult(vm.evalCode(PRELUDE, 'sandbox-prelude.js'))
  const host = vm.newObject()
  const functions: Record<string, QuickJSHandle> = {
    begin: vm.newFunction('begin', (name) => vm.newNumber(tally.begin(vm.getString(name)))),
    finish: vm.newFunction('finish', (id, ok, message, stack) => {
      tally.finish(vm.getNumber(id), vm.dump(ok) === true, vm.getString(message), vm.getString(stack))
    }),
    note: vm.newFunction('note', () => tally.note()),
    write: vm.newFunction('write', (text) => sink.writeText(vm.getString(text))),
    limit: vm.newNumber(init.output.byteLength),
  }
  for (const [key, handle] of Object.entries(functions)) {
    vm.setProp(host, key, handle)
    handle.dispose()
  }
  const installed = vm.callFunction(prelude, vm.undefined, host)
  prelude.dispose()
  host.dispose()
  return vm.unwrapResult(installed)
}

function ended(tally: TestTally, status: WorkerResult['status'], error?: string): WorkerResult {
  const { passed, failed, total } = tally
  return { status, passed, failed, total, error: error ?? tally.error }
}

function runPhases(vm: QuickJSContext, runtime: QuickJSRuntime, message: RunMessage): WorkerResult {
  const tally = new TestTally(sink)
  const harness = installPrelude(vm, tally)
  const stopped = (): boolean => Atomics.load(control, Slot.reason) !== 0
  try {
    const failure = evaluate(vm, message.code, 'solution.js')
    if (stopped()) return ended(tally, 'interrupted')
    if (failure) {
      const stack = trimStack(failure.stack)
      sink.writeText(`${stack ? `${failure.message}\n${stack}` : failure.message}\n`)
      tally.noteError('solution', failure.message)
      return ended(tally, tally.memory ? 'memory' : 'exception', `solution: ${failure.message}`)
    }
    settle(vm, runtime, harness, tally)
    if (stopped()) return ended(tally, 'interrupted')
    if (message.tests.trim() === '') return ended(tally, tally.memory ? 'memory' : 'completed')

    const install = vm.getProp(harness, 'install')
    vm.callFunction(install, harness).dispose()
    install.dispose()
    tally.inTests = true
    const broken = evaluate(vm, message.tests, 'tests.js')
    if (stopped()) return ended(tally, 'interrupted')
    if (broken) tally.failTopLevel(broken.message, broken.stack)
    settle(vm, runtime, harness, tally)
    if (stopped()) return ended(tally, 'interrupted')
    tally.closeOpen()
    if (!broken) tally.countTopLevel()
    tally.summary()
    return ended(tally, tally.memory ? 'memory' : 'completed')
  } finally {
    harness.dispose()
  }
}

const QuickJS = await newQuickJSWASMModule(RELEASE_SYNC)
capWasmMemory(init.memoryLimitBytes + WASM_HEADROOM_BYTES)
lockDownWorker()

function run(message: RunMessage): WorkerResult {
  const deadline = Date.now() + message.deadlineMs
  const runtime = QuickJS.newRuntime()
  runtime.setMemoryLimit(init.memoryLimitBytes)
  runtime.setMaxStackSize(MAX_STACK_BYTES)
  runtime.setInterruptHandler(() => stopRequested(deadline))
  const vm = runtime.newContext()
  let result: WorkerResult
  try {
    result = runPhases(vm, runtime, message)
  } catch (error) {
    const stopped = Atomics.load(control, Slot.reason) !== 0
    const text = error instanceof Error ? error.message : String(error)
    result = stopped
      ? { status: 'interrupted', passed: 0, failed: 0, total: 0 }
      : { status: 'exception', passed: 0, failed: 0, total: 0, error: `sandbox harness failed: ${text}` }
    result.recycle = true
  }
  try {
    vm.dispose()
    runtime.dispose()
  } catch {
    result.recycle = true // a leaked handle: the module's heap can no longer be trusted
  }
  return result
}

port.on('message', (message: RunMessage) => post({ type: 'result', id: message.id, result: run(message) }))
post({ type: 'ready' })
