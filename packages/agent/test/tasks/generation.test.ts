import { describe, expect, it } from 'vitest'
import { REPEAT_RUN, repeatedRun } from '../../src/tasks/generation.ts'

describe('repeatedRun', () => {
  it('finds the second copy of a line once it has come four times in a row', () => {
    const head = 'def f(x):\n    return x\n'
    const line = 'print(f(1))\n'
    expect(REPEAT_RUN).toBe(4)
    expect(repeatedRun(head + line.repeat(3))).toBe(-1)
    expect(repeatedRun(head + line.repeat(4))).toBe(head.length + line.length)
    expect(repeatedRun(head + line.repeat(40))).toBe(head.length + line.length)
  })

  it('passes over blank lines between the copies', () => {
    expect(repeatedRun('x = 1\n\nx = 1\n  \nx = 1\n\nx = 1\n')).toBe('x = 1\n\n'.length)
  })

  it('reads only complete lines: a fourth copy still being written does not count', () => {
    expect(repeatedRun('a += 1\na += 1\na += 1\na += 1')).toBe(-1)
  })

  it('never counts lines without a letter or digit, which nesting repeats', () => {
    expect(repeatedRun('f(g(h(k(\n))))\n}\n}\n}\n}\n}\n')).toBe(-1)
    expect(repeatedRun('      )\n      )\n      )\n      )\n')).toBe(-1)
  })

  it('tells indentation apart, and a different line in between starts the count again', () => {
    expect(repeatedRun('  x()\n    x()\n  x()\n    x()\n')).toBe(-1)
    expect(repeatedRun('y()\ny()\ny()\nz()\ny()\ny()\ny()\n')).toBe(-1)
  })
})
