import { CodeTaskSpec, type TaskAttempt } from '@edgecoder/protocol'
import { SandboxPool } from '@edgecoder/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EmbeddedLlamaProvider } from '../../src/inference/index.ts'
import { CodeLoop, type TaskProgress } from '../../src/tasks/index.ts'
import { testModelPath } from '../inference/test-model.ts'

// Real inference on shared CPUs: a plan and up to three attempts took over ten minutes at a load
// average of 30 on two cores; the timeout is only a backstop.
const MODEL_TIMEOUT_MS = 1_200_000

let model: EmbeddedLlamaProvider
let sandbox: SandboxPool
let loop: CodeLoop
beforeAll(async () => {
  // Fails (never skips) with the reason when the real model cannot be had.
  model = new EmbeddedLlamaProvider({ modelPath: testModelPath(), contextSize: 4096 })
  sandbox = new SandboxPool({ languages: ['python'] })
  await sandbox.start()
  loop = new CodeLoop({}, { model, sandbox })
}, 180_000)
afterAll(async () => {
  await sandbox?.stop()
  await model?.stop()
})

const progress: TaskProgress = { token() {}, attempt() {}, testResult() {}, routed() {} }

/** The one-function tasks a new user tries first; `add` is the one that used to fail on a tail of junk. */
const TASKS = [
  ['add', 'Write a Python function add(a, b) that returns the sum.', 'assert add(2, 3) == 5\n'],
  [
    'is_even',
    'Write a Python function is_even(n) that returns True when n is even and False otherwise.',
    'assert is_even(4) == True\nassert is_even(7) == False\n',
  ],
  [
    'reverse',
    'Write a Python function reverse(s) that returns the string s reversed.',
    'assert reverse("abc") == "cba"\n',
  ],
  [
    'largest',
    'Write a Python function largest(xs) that returns the largest number in the list xs.',
    'assert largest([3, 9, 2]) == 9\nassert largest([-5, -2, -8]) == -2\n',
  ],
  [
    'factorial',
    'Write a Python function factorial(n) that returns n factorial.',
    'assert factorial(0) == 1\nassert factorial(5) == 120\n',
  ],
] as const

describe('the code loop on the real test model, with a fixed seed', () => {
  for (const [name, prompt, tests] of TASKS) {
    it(
      `solves ${name}`,
      async () => {
        // The seed fixes the sampling on one machine only: llama.cpp's arithmetic differs between
        // CPUs, so another machine draws other answers from the same seed. The test therefore
        // gives the loop its full reach (10 attempts, five rounds) rather than the default 8.
        const spec = CodeTaskSpec.parse({
          kind: 'code',
          language: 'python',
          prompt,
          tests,
          seed: 1,
          maxAttempts: 10,
        })
        const outcome = await loop.run(spec, progress, new AbortController().signal)
        const attempts = outcome.result.attempts as TaskAttempt[]
        const last = attempts.at(-1)!
        expect(outcome.status, JSON.stringify(attempts, null, 1)).toBe('succeeded')
        expect(last.report).toMatchObject({ outcome: 'passed', failed: 0 })
        expect(last.code).toMatch(new RegExp(`^def ${name}\\(`, 'm'))
        for (const a of attempts) {
          // Each attempt says what it cost and how it ended; a dropped tail is shown, and came from the answer.
          expect(a.budget).toBeLessThan(512)
          expect(a.tokens.completion).toBeLessThanOrEqual(a.budget!)
          expect(['stop', 'length']).toContain(a.finishReason)
          if (a.droppedTail !== undefined) expect(a.response).toContain(a.droppedTail)
          if (a !== last) expect(a.failure).toBeTruthy()
        }
      },
      MODEL_TIMEOUT_MS,
    )
  }
})
