import type { OutputSink } from './protocol.ts'

const MAX_FRAMES = 40

/**
 * A guest stack trace fit to show: without the prelude's own frames (assert, fail), which
 * are noise to whoever reads the failure, and cut short after a deep recursion.
 */
export function trimStack(stack: string): string {
  const frames = stack.split('\n').filter((line) => line.trim() && !line.includes('sandbox-prelude.js'))
  const more = frames.length - MAX_FRAMES
  return (more > 0 ? [...frames.slice(0, MAX_FRAMES), `    ... ${more} more frames`] : frames).join('\n')
}

/**
 * The count of JavaScript tests, kept on the host side of QuickJS: guest code reports to
 * it through functions it cannot reach by name, so it can neither see nor rewrite it.
 */
export class TestTally {
  total = 0
  passed = 0
  failed = 0
  /** The first failure or exception, as `label: Name: message`. */
  error: string | undefined
  /** Some failure was the guest running out of memory. */
  memory = false
  /** The tests are running (asserts in the solution are not tests). */
  inTests = false
  topLevelAsserts = false
  readonly #open = new Map<number, string>()
  readonly #sink: OutputSink
  #nextId = 1

  constructor(sink: OutputSink) {
    this.#sink = sink
  }

  begin(name: string): number {
    const id = this.#nextId++
    this.total++
    this.#open.set(id, name)
    return id
  }

  finish(id: number, ok: boolean, message: string, stack: string): void {
    const name = this.#open.get(id)
    if (name === undefined) return
    this.#open.delete(id)
    if (ok) {
      this.passed++
      this.#sink.writeText(`ok - ${name}\n`)
    } else {
      this.failed++
      this.#record(name, message, stack)
    }
  }

  /** An assert ran; outside any test, the tests' top level counts as one test. */
  note(): void {
    if (this.inTests && this.#open.size === 0) this.topLevelAsserts = true
  }

  /** The tests' top level threw: that is one failed test. */
  failTopLevel(message: string, stack: string): void {
    this.total++
    this.failed++
    this.#record('tests (top level)', message, stack)
  }

  /** Tests that began but never finished (a promise that never settled) failed. */
  closeOpen(): void {
    for (const id of [...this.#open.keys()]) this.finish(id, false, 'Error: the test did not finish', '')
  }

  /** Counts the top level as a passed test when it asserted and did not throw. */
  countTopLevel(): void {
    if (!this.topLevelAsserts) return
    this.total++
    this.passed++
  }

  noteError(label: string, message: string): void {
    if (/out of memory/i.test(message)) this.memory = true
    this.error ??= `${label}: ${message}`
  }

  summary(): void {
    this.#sink.writeText(`Ran ${this.total} tests: ${this.passed} passed, ${this.failed} failed\n`)
  }

  #record(name: string, message: string, stack: string): void {
    this.noteError(name, message)
    const frames = trimStack(stack)
    const where = frames ? `\n${frames}` : ''
    this.#sink.writeText(`FAIL - ${name}: ${message}${where}\n`)
  }
}
