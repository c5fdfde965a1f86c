import { describe, expect, it } from 'vitest'
import { extractCode, testedNames } from '../../src/tasks/index.ts'

describe('extractCode', () => {
  it('takes the code out of a fenced block with a language tag', () => {
    const answer =
      'Here is the solution:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt adds two numbers.'
    expect(extractCode(answer, 'python')).toBe('def add(a, b):\n    return a + b')
  })

  it('accepts untagged, tilde and short-tagged fences', () => {
    expect(extractCode('```\nconst x = 1\n```', 'javascript')).toBe('const x = 1')
    expect(extractCode('~~~py\nx = 1\n~~~', 'python')).toBe('x = 1')
    expect(extractCode('```js\nlet y = 2;\n```', 'javascript')).toBe('let y = 2;')
  })

  it('keeps the code of a block the token limit cut off', () => {
    const answer =
      '```python\ndef fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)'
    expect(extractCode(answer, 'python')).toBe(
      'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)',
    )
  })

  it('prefers the block that defines what the tests call over a usage example', () => {
    const answer = [
      'Usage:',
      '```python',
      'print(square(3))',
      '```',
      'Solution:',
      '```python',
      'def square(x):',
      '    return x * x',
      '```',
    ].join('\n')
    expect(extractCode(answer, 'python', 'assert square(2) == 4')).toBe('def square(x):\n    return x * x')
  })

  it('prefers the requested language over a block of shell or output', () => {
    const answer =
      '```bash\nnode main.js\n```\n```javascript\nfunction f() { return 1 }\n```\n```text\n1\n```'
    expect(extractCode(answer, 'javascript')).toBe('function f() { return 1 }')
  })

  it('finds unfenced code between sentences', () => {
    const answer = [
      'Sure! Here is a function that reverses a string.',
      '',
      'def reverse(s):',
      '    return s[::-1]',
      '',
      'This uses slicing with a negative step.',
    ].join('\n')
    expect(extractCode(answer, 'python')).toBe('def reverse(s):\n    return s[::-1]')
  })

  it('finds unfenced JavaScript', () => {
    const answer = 'The answer is below.\nfunction add(a, b) {\n  return a + b\n}\nHope this helps you out.'
    expect(extractCode(answer, 'javascript')).toBe('function add(a, b) {\n  return a + b\n}')
  })

  it('turns module syntax into a plain script for the sandbox', () => {
    const answer =
      '```javascript\nexport function add(a, b) {\n  return a + b\n}\nexport default function sub(a, b) { return a - b }\nmodule.exports = { add, sub }\n```'
    expect(extractCode(answer, 'javascript')).toBe(
      'function add(a, b) {\n  return a + b\n}\nfunction sub(a, b) { return a - b }',
    )
  })

  it('drops a language name written as the first line of the block', () => {
    expect(extractCode('```\npython\nx = 1\n```', 'python')).toBe('x = 1')
  })

  it('strips chat-template markers a model leaked', () => {
    expect(extractCode('```python\nx = 1\n```<end_of_turn>', 'python')).toBe('x = 1')
  })

  it('returns an empty string when there is no code', () => {
    expect(extractCode('I am not sure how to do that.', 'python')).toBe('')
    expect(extractCode('```python\n\n```', 'python')).toBe('')
  })
})

describe('extractCode on answers cut off or padded by a small model', () => {
  it('drops example calls and prints after the code when tests exercise it', () => {
    const answer = '```python\ndef square(x):\n    return x * x\n\nprint(square(3))\nsquare(4)\n'
    expect(extractCode(answer, 'python', 'assert square(2) == 4')).toBe('def square(x):\n    return x * x')
    const js = '```javascript\nfunction f(n) {\n  return n\n}\nconsole.log(f(1));\nf(2);\n```'
    expect(extractCode(js, 'javascript', "test('t', () => assert.equal(f(1), 1))")).toBe(
      'function f(n) {\n  return n\n}',
    )
  })

  it('keeps trailing statements when there are no tests to exercise the code', () => {
    expect(extractCode('```python\ndef f():\n    return 1\nprint(f())\n```', 'python')).toBe(
      'def f():\n    return 1\nprint(f())',
    )
  })

  it('drops a last line the token limit left open', () => {
    const answer = '```python\ndef f(n):\n    return n\nprint(f(1))\nprint(f('
    expect(extractCode(answer, 'python', '', { truncated: true })).toBe(
      'def f(n):\n    return n\nprint(f(1))',
    )
  })

  it('names the functions the tests call but do not define', () => {
    expect(
      testedNames('def helper():\n    pass\nassert is_even(2)\nassert helper() is None\nprint(len(x))'),
    ).toEqual(['is_even'])
    expect(testedNames("test('x', () => assert.equal(factorial(5), 120))")).toEqual(['factorial'])
  })
})
