import { SandboxPool } from '@edgecoder/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completePrefix } from '../../src/tasks/index.ts'

// Python's own parser decides, so the Python cases run in the real sandbox.
let sandbox: SandboxPool
beforeAll(async () => {
  sandbox = new SandboxPool({ languages: ['python'] })
  await sandbox.start()
}, 120_000)
afterAll(() => sandbox.stop())

const py = (code: string, truncated = false) => completePrefix(code, 'python', { truncated, sandbox })
const js = (code: string, truncated = false) => completePrefix(code, 'javascript', { truncated, sandbox })

const ADD_PY = 'def add(a, b):\n    return a + b'
const ADD_JS = 'function add(a, b) {\n  return a + b\n}'

describe('completePrefix on Python', () => {
  it('keeps a program that parses as it is', async () => {
    expect(await py(`${ADD_PY}\n\n\ndef sub(a, b):\n    return a - b`)).toEqual({
      code: `${ADD_PY}\n\n\ndef sub(a, b):\n    return a - b`,
    })
  })

  it('drops prose after a valid program', async () => {
    expect(await py(`${ADD_PY}\n\nThis function returns the sum of a and b.`)).toEqual({
      code: ADD_PY,
      droppedTail: 'This function returns the sum of a and b.',
    })
  })

  it('drops a definition cut off in the middle of a string', async () => {
    const r = await py(`${ADD_PY}\n\ndef greet(name):\n    return "Hello, `, true)
    expect(r).toEqual({ code: ADD_PY, droppedTail: 'def greet(name):\n    return "Hello,' })
  })

  it('drops a definition cut off mid-way, even when what was written of it parses', async () => {
    expect(await py(`${ADD_PY}\n\ndef mul(a, b):\n    result = a`, true)).toEqual({
      code: ADD_PY,
      droppedTail: 'def mul(a, b):\n    result = a',
    })
    expect((await py(`${ADD_PY}\n\ndef mul(a, b):\n    return a *`, true)).code).toBe(ADD_PY)
  })

  it('drops a statement left with unbalanced brackets', async () => {
    const r = await py(`${ADD_PY}\n\nprint(add(max([1, 2, 3], add(4, 5))`)
    expect(r).toEqual({ code: ADD_PY, droppedTail: 'print(add(max([1, 2, 3], add(4, 5))' })
  })

  it('drops junk cut off inside the last definition, keeping its complete statements', async () => {
    const junk = '    print(f"f({n}) = {f(n)}")\n'.repeat(3)
    const r = await py(`def f(n):\n    return n + 1\n\n${junk}    print(f"f({n`, true)
    // The complete (unreachable) prints stay: they parse; the one cut off goes.
    expect(r).toEqual({
      code: `def f(n):\n    return n + 1\n\n${junk.trimEnd()}`,
      droppedTail: 'print(f"f({n',
    })
  })

  it('keeps the whole text when no prefix parses, so that running it reports the error', async () => {
    const broken = 'def add(a, b)\n    return a + b'
    expect(await py(broken)).toEqual({ code: broken })
  })

  it('keeps a cut-off answer whole when it is the only statement and parses', async () => {
    expect(await py(ADD_PY, true)).toEqual({ code: ADD_PY })
  })
})

describe('completePrefix on JavaScript', () => {
  it('keeps a program that parses as it is', async () => {
    expect(await js(`${ADD_JS}\nconst twice = (x) => add(x, x)`)).toEqual({
      code: `${ADD_JS}\nconst twice = (x) => add(x, x)`,
    })
  })

  it('drops prose after a valid program', async () => {
    expect(await js(`${ADD_JS}\n\nThis function adds two numbers.\nUse it like add(1, 2).`)).toEqual({
      code: ADD_JS,
      droppedTail: 'This function adds two numbers.\nUse it like add(1, 2).',
    })
  })

  it('drops a statement cut off in the middle of a string', async () => {
    expect(await js(`${ADD_JS}\nconst greeting = 'Hello, wor`, true)).toEqual({
      code: ADD_JS,
      droppedTail: "const greeting = 'Hello, wor",
    })
  })

  it('drops a definition cut off mid-way', async () => {
    expect(await js(`${ADD_JS}\n\nfunction sub(a, b) {\n  return a -`, true)).toEqual({
      code: ADD_JS,
      droppedTail: 'function sub(a, b) {\n  return a -',
    })
  })

  it('drops a statement left with unbalanced brackets', async () => {
    expect(await js(`${ADD_JS}\nconst xs = [1, 2, add(3, 4]`)).toEqual({
      code: ADD_JS,
      droppedTail: 'const xs = [1, 2, add(3, 4]',
    })
  })

  it('keeps the whole text when no prefix parses', async () => {
    const broken = 'function add(a, b) {\n  return a +\n'
    expect(await js(broken)).toEqual({ code: broken })
  })
})
