import { CodeTaskSpec, type TaskAttempt } from '@edgecoder/protocol'
import { SandboxPool } from '@edgecoder/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { planForPrompt } from '../../src/tasks/code-loop.ts'
import { CodeLoop, type CodeLoopOptions, type TaskProgress } from '../../src/tasks/index.ts'
import { type ScriptedAnswer, ScriptedModel } from './fakes.ts'

// The real sandbox runs the code; the model is scripted, so each case is exactly the answer it names.
let sandbox: SandboxPool
beforeAll(async () => {
  sandbox = new SandboxPool({})
  await sandbox.start()
  // Pyodide's start took over two minutes at a load average of 20 on two cores; only a backstop.
}, 300_000)
afterAll(() => sandbox.stop())

const progress: TaskProgress = { token() {}, attempt() {}, testResult() {}, routed() {} }

async function loop(
  answers: ScriptedAnswer[],
  spec: Partial<CodeTaskSpec> & Pick<CodeTaskSpec, 'prompt'>,
  opts: Partial<CodeLoopOptions> = {},
) {
  const model = new ScriptedModel(answers)
  const outcome = await new CodeLoop(opts, { model, sandbox }).run(
    CodeTaskSpec.parse({ kind: 'code', language: 'python', plan: false, ...spec }),
    progress,
    new AbortController().signal,
  )
  return { model, outcome, attempts: outcome.result.attempts as TaskAttempt[] }
}

describe('CodeLoop', () => {
  it('runs the complete definitions of an answer the token budget cut off, and reports the dropped tail', async () => {
    // What the test model wrote for `add` after the primed signature `def add(a, b):`, then more definitions.
    const cut = '    return a + b\n\ndef subtract(a, b):\n    return a - b\n\ndef multiply_and_'
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

  it('stops generating when the model repeats one line, and runs what came before the repeats', async () => {
    // A JavaScript answer of the kind the test model loops on: the body, then one line again and again.
    const body = '  return n < 2 ? 1 : n * factorial(n - 1);\n}\n'
    const loopLine = 'factorial = factorial;\n'
    const text = body + loopLine.repeat(60)
    const { model, outcome, attempts } = await loop([{ text, finishReason: 'length' }], {
      language: 'javascript',
      prompt: 'Write a JavaScript function factorial(n).',
      tests: 'assert.equal(factorial(5), 120)',
    })
    expect(outcome.status).toBe('succeeded')
    expect(attempts[0]).toMatchObject({ finishReason: 'repetition', report: { outcome: 'passed' } })
    // Stopped soon after the fourth copy, not at the end of the budget.
    expect(model.streamed[0]!.length).toBeLessThan(body.length + 6 * loopLine.length)
    expect(attempts[0]!.code).toContain('n * factorial(n - 1)')
    // The repeats are gone: at most the first copy is left of them.
    expect(attempts[0]!.code.split(loopLine.trim()).length - 1).toBeLessThanOrEqual(1)
  })

  it('tells the model the failing test, the error and the line it points at', async () => {
    const { model, outcome, attempts } = await loop(
      ['    total = 0\n    return xs[0]\n', '    return xs[0] if xs else None\n'],
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
    // The task again with what broke, short enough for a small context; not the whole failed answer.
    const request = model.requests[0]!.messages[0]!.content
    expect(feedback.startsWith(request)).toBe(true)
    expect(feedback.length - request.length).toBeLessThan(700)
    expect(feedback).not.toContain('```python\ndef first')
    expect(model.requests[1]!.messages.map((m) => m.role)).toEqual(['user', 'assistant'])
  })

  it('says what an endless recursion means, naming the input, in Python and JavaScript', async () => {
    const py = await loop(
      [
        '    if n == 1:\n        return 1\n    return n * factorial(n - 1)\n',
        '    return 1 if n <= 1 else n * factorial(n - 1)\n',
      ],
      {
        prompt: 'Write a Python function factorial(n) that returns n factorial.',
        tests: 'assert factorial(5) == 120\nassert factorial(0) == 1\n',
      },
    )
    expect(py.attempts.map((a) => a.report.outcome)).toEqual(['failed', 'passed'])
    const pyFeedback = py.model.requests[1]!.messages.at(-2)!.content
    expect(pyFeedback).toContain('RecursionError')
    expect(pyFeedback).toContain('Failing test:\nassert factorial(0) == 1')
    expect(pyFeedback).toContain("calls itself without end on that test's input")
    const js = await loop(
      ['  return n * factorial(n - 1)\n}\n', '  return n <= 1 ? 1 : n * factorial(n - 1)\n}\n'],
      {
        language: 'javascript',
        prompt: 'Write a JavaScript function factorial(n) that returns n factorial.',
        tests: "test('factorial', () => {\n  assert.equal(factorial(3), 6)\n})\n",
      },
    )
    expect(js.attempts.map((a) => a.report.outcome)).toEqual(['failed', 'passed'])
    const jsFeedback = js.model.requests[1]!.messages.at(-2)!.content
    expect(jsFeedback).toContain('InternalError: stack overflow')
    expect(jsFeedback).toContain('calls itself without end')
    // Other errors get no such words.
    expect(py.model.requests[0]!.messages.at(-2)?.content ?? '').not.toContain('without end')
  })

  it('names the failing JavaScript test and its message', async () => {
    const { model, attempts } = await loop(['  return xs[0]\n}\n', '  return Math.max(...xs)\n}\n'], {
      language: 'javascript',
      prompt: 'Write largest(xs): the largest number in xs.',
      tests: "test('largest', () => {\n  assert.equal(largest([3, 9, 2]), 9)\n})\n",
    })
    expect(attempts.map((a) => a.report.outcome)).toEqual(['failed', 'passed'])
    const feedback = model.requests[1]!.messages.at(-2)!.content
    expect(feedback).toContain('expected 9, got 3')
    expect(feedback).toContain('Failing test:\nassert.equal(largest([3, 9, 2]), 9)')
  })

  it('asks for another approach when an answer repeats a failed one, and stops at the fourth repeat', async () => {
    const same = '    return a - b\n'
    const { model, outcome, attempts } = await loop([same], {
      prompt: 'Write add(a, b).',
      tests: 'assert add(2, 3) == 5',
      maxAttempts: 8,
    })
    expect(outcome.status).toBe('failed')
    expect(attempts.map((a) => a.repeatOf)).toEqual([undefined, 1, 1, 1, 1])
    // The repeated code was not run again: it keeps the first verdict.
    expect(attempts[1]!.report).toMatchObject({ outcome: 'failed', durationMs: 0 })
    const varied = model.requests[2]!.messages
    expect(varied).toHaveLength(2)
    expect(varied[0]!.content).toContain('An earlier solution failed on the test `assert add(2, 3) == 5`')
    expect(varied[0]!.content).not.toContain('return a - b')
    expect(outcome.error).toEqual({
      code: 'tests_failed',
      message:
        'stopped after attempt 5: the model gave the same failing code again even when asked for another approach',
    })
  })

  it('after a failed retry starts a new round: a new plan and the task alone, not the failed code', async () => {
    const { model, attempts } = await loop(
      [
        ' Subtract the numbers.',
        '    return a - b\n',
        '    return a * b\n',
        ' Add the two numbers.',
        '    return a + b\n',
      ],
      { prompt: 'Write add(a, b).', tests: 'assert add(2, 3) == 5', plan: true, seed: 7 },
    )
    expect(attempts.map((a) => a.report.outcome)).toEqual(['failed', 'failed', 'passed'])
    const [plan1, code1, retry, plan2, code2] = model.requests
    expect(plan1!.messages.at(-1)!.content).toBe('1.')
    // The retry is shown what broke; the new round is not.
    // The retry says what broke in the first answer, without showing that answer.
    const retryText = retry!.messages.map((m) => m.content).join('\n')
    expect(retryText).toContain('add(2, 3) is -1, expected 5')
    expect(retryText).not.toContain('return a - b')
    expect(plan2!.messages).toEqual(plan1!.messages)
    expect(code2!.messages[0]!.content).toContain('Plan:\n1. Add the two numbers.')
    expect(code2!.messages.map((m) => m.content).join('\n')).not.toMatch(/a - b|a \* b/)
    expect(code2!.messages).toHaveLength(2)
    // Each round's plan has its own seed, each attempt too; the temperature stays the task's.
    expect([plan1!.seed, plan2!.seed]).toEqual([7, 8])
    expect([code1!.seed, retry!.seed, code2!.seed]).toEqual([7, 8, 9])
    expect(new Set([code1!.temperature, retry!.temperature, code2!.temperature])).toEqual(new Set([0.2]))
    // The attempt that opened a round carries its plan.
    expect(attempts.map((a) => a.plan)).toEqual([
      '1. Subtract the numbers.',
      undefined,
      '1. Add the two numbers.',
    ])
  })

  it('stops at a test written as the first line of the body, after a primed signature', async () => {
    const { attempts } = await loop(['    assert is_even(n) == True\n    return n % 2 == 0\n'], {
      prompt: 'Write is_even(n).',
      tests: 'assert is_even(4) == True\n',
      maxAttempts: 1,
    })
    expect(attempts[0]!.response).toBe('```python\ndef is_even(n):\n')
    expect(attempts[0]!.report.outcome).not.toBe('passed')
  })

  it('gives an attempt cut off before any complete code twice the budget on the next try', async () => {
    const { model, attempts } = await loop(
      [{ text: '    """Adds', finishReason: 'length' }, '    """Adds two numbers."""\n    return a + b\n'],
      { prompt: 'Write add(a, b).', tests: 'assert add(2, 3) == 5' },
    )
    expect(attempts.map((a) => a.report.outcome)).toEqual(['error', 'passed'])
    expect(attempts[0]!.failure).toMatch(/cut off by the token budget/)
    expect(model.requests[1]!.maxTokens).toBe(2 * model.requests[0]!.maxTokens!)
  })

  it('constrains every code answer, first and retries, with the grammar of its language when asked, never the plan', async () => {
    const { model, attempts } = await loop(
      ['1. Add the numbers.', '    return a - b\n', '    return a + b\n'],
      { prompt: 'Write add(a, b).', tests: 'assert add(2, 3) == 5', plan: true },
      { grammar: true },
    )
    expect(attempts.map((a) => a.report.outcome)).toEqual(['failed', 'passed'])
    const [plan, ...code] = model.requests
    expect(plan!.grammar).toBeUndefined()
    expect(code).toHaveLength(2)
    for (const req of code) {
      // The primer wrote the signature `def add(a, b):`: the grammar wants the body.
      expect(req.grammar).toMatch(/^root ::= inner rest "```"$/m)
    }
  })

  it('sends no grammar unless asked', async () => {
    const { model } = await loop(
      ['    return a + b\n'],
      {
        prompt: 'Write add(a, b).',
        tests: 'assert add(2, 3) == 5',
      },
      { grammar: false },
    )
    expect(model.requests[0]!.grammar).toBeUndefined()
  })

  it('stops where the model starts testing the function inside its own body', async () => {
    // What the test model wrote for is_even: a correct body, then asserts at the same depth until the budget ran out.
    const answer =
      '    if n % 2 == 0:\n        return True\n    return False\n\n    # test\n    assert is_even(4) == True\n    assert is_even(7) =='
    const { model, attempts } = await loop([answer], {
      prompt: 'Write is_even(n).',
      tests: 'assert is_even(4) == True\nassert is_even(7) == False\n',
    })
    expect(model.requests[0]!.stop).toEqual(
      expect.arrayContaining(['\n    assert is_even(', '\n  print(is_even(']),
    )
    expect(attempts[0]!.code).toBe(
      'def is_even(n):\n    if n % 2 == 0:\n        return True\n    return False\n\n    # test',
    )
    expect(attempts[0]!.report.outcome).toBe('passed')
  })
})

describe('planForPrompt', () => {
  it('drops the steps that ask for prints, example calls or tests, and renumbers the rest', () => {
    // The test model's plan for add, as written.
    const plan =
      '1. Create a Python function add(a, b) that returns the sum.\n2. Write a Python code that calls add(2, 3) and prints the result.\n3. Add some tests.\n4. Show example usage.\n5. Return a + b.'
    expect(planForPrompt(plan)).toBe(
      '1. Create a Python function add(a, b) that returns the sum.\n2. Return a + b.',
    )
  })

  it('shows no plan that says one thing over and over, or nothing but prints', () => {
    expect(planForPrompt('1. Create a Python model that is a Python model.\n'.repeat(5))).toBeNull()
    expect(planForPrompt('1. Print the result.\n2. Print an example.')).toBeNull()
    expect(planForPrompt('')).toBeNull()
  })
})
