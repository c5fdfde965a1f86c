import { CodeTaskSpec, type TaskAttempt } from '@edgecoder/protocol'
import { SandboxPool } from '@edgecoder/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CodeLoop, type TaskProgress } from '../../src/tasks/index.ts'
import { type ScriptedAnswer, ScriptedModel } from './fakes.ts'

// The real sandbox runs the code; the model is scripted, so each case is exactly the answer it names.
let sandbox: SandboxPool
beforeAll(async () => {
  sandbox = new SandboxPool({})
  await sandbox.start()
}, 120_000)
afterAll(() => sandbox.stop())

const progress: TaskProgress = { token() {}, attempt() {}, testResult() {}, routed() {} }

async function loop(answers: ScriptedAnswer[], spec: Partial<CodeTaskSpec> & Pick<CodeTaskSpec, 'prompt'>) {
  const model = new ScriptedModel(answers)
  const outcome = await new CodeLoop({}, { model, sandbox }).run(
    CodeTaskSpec.parse({ kind: 'code', language: 'python', plan: false, ...spec }),
    progress,
    new AbortController().signal,
  )
  return { model, outcome, attempts: outcome.result.attempts as TaskAttempt[] }
}

describe('CodeLoop', () => {
  it('runs the complete definitions of an answer the token budget cut off, and reports the dropped tail', async () => {
    // What the test model wrote for `add`: the primer `def add(` continued, then more definitions.
    const cut = 'a, b):\n    return a + b\n\ndef subtract(a, b):\n    return a - b\n\ndef multiply_and_'
    const { model, outcome, attempts } = await loop([{ text: cut, finishReason: 'length' }], {
      prompt: 'Write a Python function add(a, b) that returns the sum.',
      tests: 'assert add(2, 3) == 5',
    })
    expect(outcome.status).toBe('succeeded')
    expect(attempts).toHaveLength(1)
    expect(attempts[0]).toMatchObject({
      code: 'def add(a, b):\n    return a + b\n\ndef subtract(a, b):\n    return a - b',
      droppedTail: 'def multiply_and_',
      finishReason: 'length',
      report: { outcome: 'passed' },
    })
    // A budget that fits a one-function task, and generation that stops where the code ends.
    const req = model.requests[0]!
    expect(req.maxTokens).toBeLessThan(512)
    expect(req.maxTokens).toBe(attempts[0]!.budget)
    expect(req.stop).toEqual(expect.arrayContaining(['```', '\nassert ', '\nprint(']))
  })

  it('tells the model the failing test, the error and the line it points at', async () => {
    const { model, outcome, attempts } = await loop(
      ['xs):\n    total = 0\n    return xs[0]\n', 'xs):\n    return xs[0] if xs else None\n'],
      {
        prompt: 'Write first(xs): the first item of xs, or None when xs is empty.',
        tests: 'assert first([4, 5]) == 4\nassert first([]) is None\n',
      },
    )
    expect(outcome.status).toBe('succeeded')
    expect(attempts.map((a) => a.report.outcome)).toEqual(['failed', 'passed'])
    expect(attempts[0]!.failure).toBe('1 of 1 tests failed: tests: IndexError: list index out of range')
    const feedback = model.requests[1]!.messages.at(-2)!.content
    expect(feedback).toContain('Failing test:\nassert first([]) is None')
    expect(feedback).toContain('IndexError: list index out of range')
    expect(feedback).toContain('>  3 |     return xs[0]')
    // Short enough for a small context.
    expect(feedback.length).toBeLessThan(700)
  })

  it('names the failing JavaScript test and its message', async () => {
    const { model, attempts } = await loop(
      ['xs) {\n  return xs[0]\n}\n', 'xs) {\n  return Math.max(...xs)\n}\n'],
      {
        language: 'javascript',
        prompt: 'Write largest(xs): the largest number in xs.',
        tests: "test('largest', () => {\n  assert.equal(largest([3, 9, 2]), 9)\n})\n",
      },
    )
    expect(attempts.map((a) => a.report.outcome)).toEqual(['failed', 'passed'])
    const feedback = model.requests[1]!.messages.at(-2)!.content
    expect(feedback).toContain('expected 9, got 3')
    expect(feedback).toContain('Failing test:\nassert.equal(largest([3, 9, 2]), 9)')
  })

  it('asks for another approach when an answer repeats a failed one, and stops when it repeats again', async () => {
    const same = 'a, b):\n    return a - b\n'
    const { model, outcome, attempts } = await loop([same], {
      prompt: 'Write add(a, b).',
      tests: 'assert add(2, 3) == 5',
      maxAttempts: 5,
    })
    expect(outcome.status).toBe('failed')
    expect(attempts.map((a) => a.repeatOf)).toEqual([undefined, 1, 1])
    // The repeated code was not run again: it keeps the first verdict.
    expect(attempts[1]!.report).toMatchObject({ outcome: 'failed', durationMs: 0 })
    const varied = model.requests[2]!.messages
    expect(varied).toHaveLength(2)
    expect(varied[0]!.content).toContain('An earlier solution failed on the test `assert add(2, 3) == 5`')
    expect(varied[0]!.content).not.toContain('return a - b')
    expect(outcome.error).toEqual({
      code: 'tests_failed',
      message:
        'stopped after attempt 3: the model gave the same failing code again even when asked for another approach',
    })
  })

  it('gives an attempt cut off before any complete code twice the budget on the next try', async () => {
    const { model, attempts } = await loop(
      [
        { text: 'a, b):\n    """Adds', finishReason: 'length' },
        'a, b):\n    """Adds two numbers."""\n    return a + b\n',
      ],
      { prompt: 'Write add(a, b).', tests: 'assert add(2, 3) == 5' },
    )
    expect(attempts.map((a) => a.report.outcome)).toEqual(['error', 'passed'])
    expect(attempts[0]!.failure).toMatch(/cut off by the token budget/)
    expect(model.requests[1]!.maxTokens).toBe(2 * model.requests[0]!.maxTokens!)
  })
})
