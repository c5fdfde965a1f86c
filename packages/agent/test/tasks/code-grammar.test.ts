import type { Llama } from 'node-llama-cpp'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadLlamaRuntime } from '../../src/inference/index.ts'
import { codeGrammar } from '../../src/tasks/code-grammar.ts'
import { codePrimer } from '../../src/tasks/prompts.ts'

// llama.cpp's own grammar parser and matcher decide; no model is needed for that.
let llama: Llama
beforeAll(async () => {
  llama = await loadLlamaRuntime(false)
}, 60_000)

const PY_TESTS = 'assert add(2, 3) == 5\n'
const JS_TESTS = "test('add', () => { assert.equal(add(2, 3), 5) })\n"

/** Whether `answer`, the text after the primer, is a complete match of the loop's grammar. */
async function accepts(lang: 'python' | 'javascript', tests: string, answer: string): Promise<boolean> {
  const grammar = await llama.createGrammar({ grammar: codeGrammar(lang, tests, codePrimer(lang, tests)) })
  // The matcher llama.cpp samples with, run over the text: true when it ends the grammar.
  return (grammar as unknown as { _testText(text: string): boolean })._testText(answer)
}

describe('codeGrammar', () => {
  it('admits a Python definition with an indented body, more definitions, and the closing fence', async () => {
    expect(await accepts('python', PY_TESTS, 'a, b):\n    return a + b\n```')).toBe(true)
    expect(
      await accepts(
        'python',
        PY_TESTS,
        'a: int, b: int) -> int:  # the sum\n    """Adds."""\n    return a + b\n\n\nLIMIT = 10\nimport math\n\ndef g(x):\n    return x\n```',
      ),
    ).toBe(true)
  })

  it('keeps a Python answer to code: no example calls, prints or prose at the margin, no body at the wrong depth', async () => {
    for (const answer of [
      'a, b):\n    return a + b\nprint(add(2, 3))\n```',
      'a, b):\n    return a + b\nassert add(2, 3) == 5\n```',
      'a, b):\n    return a + b\nThis function adds two numbers.\n```',
      'a, b):\nreturn a + b\n```',
      'a, b): return a + b\n```',
      // The fence must close the block, and nothing may follow it.
      'a, b):\n    return a + b\n',
      'a, b):\n    return a + b\n```\nThat is all.',
      // Blank lines at most two in a row: a model can't spend its budget on them.
      'a, b):\n    return a + b\n\n\n\n```',
    ])
      expect(await accepts('python', PY_TESTS, answer), answer).toBe(false)
  })

  it('admits JavaScript definitions, one-line bodies and template literals, not calls at the margin', async () => {
    expect(await accepts('javascript', JS_TESTS, 'a, b) {\n  return a + b;\n}\n```')).toBe(true)
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the answer holds a JavaScript template literal
    expect(await accepts('javascript', JS_TESTS, 'a, b) { return `${a + b}` }\nconst ZERO = 0;\n```')).toBe(
      true,
    )
    expect(
      await accepts('javascript', JS_TESTS, 'a, b) {\n  return a + b;\n}\nconsole.log(add(2, 3));\n```'),
    ).toBe(false)
  })

  it('lets a task without tests write a script: any statement may start a line', async () => {
    const grammar = codeGrammar('python', undefined, codePrimer('python', undefined))
    const g = await llama.createGrammar({ grammar })
    const test = (t: string) => (g as unknown as { _testText(text: string): boolean })._testText(t)
    expect(test('for i in range(3):\n    print(i)\nprint("done")\n```')).toBe(true)
    expect(test('```')).toBe(false)
  })
})

describe('codePrimer', () => {
  it('writes the whole signature when the task spells out the parameters, else the name alone', () => {
    const tests = 'assert is_even(4) == True\n'
    expect(codePrimer('python', tests, 'Write is_even(n) that returns True for even n.')).toBe(
      '```python\ndef is_even(n):\n',
    )
    expect(codePrimer('javascript', JS_TESTS, 'Write a function add(a, b) that sums.')).toBe(
      '```javascript\nfunction add(a, b) {\n',
    )
    expect(codePrimer('python', 'assert now() > 0\n', 'Write now() returning the time.')).toBe(
      '```python\ndef now():\n',
    )
    // Defaults, types or a name the task does not spell as a call: only the name is primed.
    expect(codePrimer('python', PY_TESTS, 'Write add(a=0, b=0).')).toBe('```python\ndef add(')
    expect(codePrimer('python', PY_TESTS, 'Write add(a: int, b: int).')).toBe('```python\ndef add(')
    expect(codePrimer('python', PY_TESTS, 'Write a function that adds two numbers.')).toBe(
      '```python\ndef add(',
    )
    expect(codePrimer('python', PY_TESTS, 'Call math.add(a, b) for it.')).toBe('```python\ndef add(')
    expect(codePrimer('python', undefined, 'Print hello.')).toBe('```python\n')
  })

  it('after a whole signature, the grammar wants the body: an indented line first', async () => {
    const primer = codePrimer('python', PY_TESTS, 'Write add(a, b).')
    const g = await llama.createGrammar({ grammar: codeGrammar('python', PY_TESTS, primer) })
    const test = (t: string) => (g as unknown as { _testText(text: string): boolean })._testText(t)
    expect(test('    return a + b\n```')).toBe(true)
    expect(test('return a + b\n```')).toBe(false)
    expect(test('```')).toBe(false)
  })
})
