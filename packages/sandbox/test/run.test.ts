import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SandboxPool } from '../src/index.ts'
import { counts, runners } from './helpers.ts'

const pool = new SandboxPool({ deadlineMs: 5_000 })
const { py, js } = runners(pool)
beforeAll(() => pool.start(), 60_000)
afterAll(() => pool.stop())

const PY_ADD = 'def add(a, b):\n    return a + b\n'
const PY_WRONG_ADD = 'def add(a, b):\n    return a - b\n'

describe('Python runs', () => {
  it('counts each unittest method, and passes a correct solution', async () => {
    const tests = [
      'import unittest',
      'class TestAdd(unittest.TestCase):',
      '    def test_small(self):',
      '        self.assertEqual(add(1, 2), 3)',
      '    def test_negative(self):',
      '        self.assertEqual(add(-1, -2), -3)',
      '    def test_zero(self):',
      '        self.assertEqual(add(0, 0), 0)',
      "if __name__ == '__main__':",
      '    unittest.main()',
    ].join('\n')
    const report = await py(PY_ADD, tests)
    expect(counts(report)).toEqual({ outcome: 'passed', ok: true, passed: 3, failed: 0, total: 3 })
    expect(report.language).toBe('python')
    expect(report.error).toBeUndefined()
    expect(report.output).toContain('test_small')
  })

  it('reports a wrong solution as failing, with the failing assertion', async () => {
    const tests = [
      'import unittest',
      'class TestAdd(unittest.TestCase):',
      '    def test_small(self):',
      '        self.assertEqual(add(1, 2), 3)',
      '    def test_zero(self):',
      '        self.assertEqual(add(0, 0), 0)',
    ].join('\n')
    const report = await py(PY_WRONG_ADD, tests)
    expect(counts(report)).toEqual({ outcome: 'failed', ok: false, passed: 1, failed: 1, total: 2 })
    expect(report.error).toContain('AssertionError: -1 != 3')
    expect(report.output).toContain('FAIL: test_small')
  })

  it('counts each test_ function and the top-level asserts as one test', async () => {
    const tests =
      'assert add(1, 1) == 2\nassert add(2, 2) == 4\ndef test_a():\n    assert add(1, 2) == 3\ndef test_b():\n    assert add(1, 2) == 4\n'
    const report = await py(PY_ADD, tests)
    expect(counts(report)).toEqual({ outcome: 'failed', ok: false, passed: 2, failed: 1, total: 3 })
    expect(report.error).toMatch(/^test_b: AssertionError/)
  })

  it('counts failing top-level asserts as one failed test', async () => {
    const report = await py(PY_WRONG_ADD, 'assert add(2, 2) == 4, "add is broken"\n')
    expect(counts(report)).toEqual({ outcome: 'failed', ok: false, passed: 0, failed: 1, total: 1 })
    expect(report.error).toContain('add is broken')
  })

  it('says what each side of a failed bare assert was, at the top level and in a test function', async () => {
    const factorial = 'def factorial(n):\n    return 0 if n <= 0 else n * factorial(n - 1)\n'
    const top = await py(factorial, 'assert factorial(0) == 1\n')
    expect(top.error).toBe('tests: AssertionError: factorial(0) is 0, expected 1')
    expect(top.output).toContain('AssertionError: factorial(0) is 0, expected 1')
    const inFunction = await py(
      PY_WRONG_ADD,
      "def test_words():\n    word = 'ab'\n    assert add(len(word), 1) > 2\n",
    )
    expect(inFunction.error).toBe('test_words: AssertionError: add(len(word), 1) is 1, expected > 2')
    const long = await py('def big():\n    return list(range(1000))\n', 'assert big() == []\n')
    expect(long.error!.length).toBeLessThan(200)
    expect(long.error).toMatch(/^tests: AssertionError: big\(\) is \[0, 1, 2, .*\.\.\..*, expected \[\]$/)
    // A side that raises when evaluated again, a message of its own, or no comparison: left as it was.
    const flaky =
      'calls = []\ndef once():\n    calls.append(1)\n    if len(calls) > 1:\n        raise ValueError\n    return 1\n'
    expect((await py(flaky, 'assert once() == 2\n')).error).toBe('tests: AssertionError')
    expect((await py(PY_WRONG_ADD, "assert add(1, 1) == 2, 'own'\n")).error).toBe(
      'tests: AssertionError: own',
    )
    expect((await py(PY_WRONG_ADD, 'assert add(1, 1)\n')).error).toBe('tests: AssertionError')
  })

  it('keeps the test a deep recursion began in, beside its innermost frames', async () => {
    const endless = 'def factorial(n):\n    if n == 1:\n        return 1\n    return n * factorial(n - 1)\n'
    const report = await py(endless, 'assert factorial(3) == 6\nassert factorial(0) == 1\n')
    expect(report.error).toBe('tests: RecursionError: maximum recursion depth exceeded')
    const lines = report.output.split('\n')
    const test = lines.findIndex((l) => l.includes('File "<tests>", line 2'))
    const between = lines.findIndex((l) => /^ {2}\.\.\. \d+ frames between$/.test(l))
    expect(test).toBeGreaterThan(0)
    expect(lines[test + 1]).toContain('assert factorial(0) == 1')
    expect(between).toBe(test + 2)
    expect(
      lines.slice(between).filter((l) => l.includes('File "<solution>", line 4')).length,
    ).toBeGreaterThan(0)
    expect(report.output.length).toBeLessThan(4000)
  })

  it('counts unittest subtests, skips and setUpClass failures as what they are', async () => {
    const tests = [
      'import unittest',
      'class A(unittest.TestCase):',
      '    def test_subtests(self):',
      '        for i in range(3):',
      '            with self.subTest(i=i):',
      '                self.assertLess(i, 1)',
      "    @unittest.skip('not today')",
      '    def test_skipped(self):',
      '        pass',
      '    def test_fine(self):',
      '        pass',
      'class B(unittest.TestCase):',
      '    @classmethod',
      '    def setUpClass(cls):',
      "        raise RuntimeError('no fixture')",
      '    def test_never_runs(self):',
      '        pass',
    ].join('\n')
    const report = await py('', tests)
    // two subtests fail, but they belong to one test; the skipped test is not counted
    expect(counts(report)).toEqual({ outcome: 'failed', ok: false, passed: 1, failed: 2, total: 3 })
  })

  it('runs the solution and the tests in one namespace, and shows the output', async () => {
    const report = await py(
      'SEED = 41\nprint("from the solution")',
      'def test_seed():\n    print("from a test")\n    assert SEED + 1 == 42',
    )
    expect(counts(report)).toEqual({ outcome: 'passed', ok: true, passed: 1, failed: 0, total: 1 })
    expect(report.output).toMatch(/from the solution\n[\s\S]*from a test/)
  })

  it('reports an exception in the solution as an error, without running the tests', async () => {
    const report = await py('def f():\n    return 1 / 0\nf()', 'def test_x():\n    assert True')
    expect(counts(report)).toEqual({ outcome: 'error', ok: false, passed: 0, failed: 0, total: 0 })
    expect(report.error).toContain('ZeroDivisionError: division by zero')
    expect(report.output).toContain('File "<solution>", line 2, in f')
  })

  it('reports a syntax error in the solution or in the tests as an error', async () => {
    expect((await py('def (:')).error).toContain('SyntaxError')
    const report = await py(PY_ADD, 'def test_x(:\n    pass')
    expect(report.outcome).toBe('error')
    expect(report.error).toMatch(/^tests: SyntaxError/)
  })

  it('passes code without tests that runs cleanly', async () => {
    const report = await py('import math\nprint(math.factorial(20))')
    expect(counts(report)).toEqual({ outcome: 'passed', ok: true, passed: 0, failed: 0, total: 0 })
    expect(report.output).toBe('2432902008176640000\n')
  })

  it('treats sys.exit(0) as the end of the solution, and a non-zero exit as an error', async () => {
    expect(counts(await py('import sys\nsys.exit(0)', 'assert True'))).toMatchObject({
      outcome: 'passed',
      total: 1,
    })
    expect((await py('import sys\nsys.exit(3)')).error).toContain('SystemExit: 3')
  })

  it('runs the solution as __main__, so pickle, dataclasses and type hints find its names', async () => {
    const code = [
      'from __future__ import annotations',
      'import dataclasses, pickle, typing',
      '@dataclasses.dataclass',
      'class Point:',
      '    x: int',
      '    y: Point | None = None',
    ].join('\n')
    const tests = [
      'def test_roundtrip():',
      '    p = Point(1, Point(2))',
      '    assert pickle.loads(pickle.dumps(p)) == p',
      '    assert typing.get_type_hints(Point)["x"] is int',
    ].join('\n')
    expect(counts(await py(code, tests))).toEqual({
      outcome: 'passed',
      ok: true,
      passed: 1,
      failed: 0,
      total: 1,
    })
  })

  it('runs asyncio code, async test functions and IsolatedAsyncioTestCase', async () => {
    const code = [
      'import asyncio',
      'async def fetch_all(n):',
      '    queue = asyncio.Queue()',
      '    async def produce():',
      '        for i in range(n):',
      '            await asyncio.sleep(0.01)',
      '            await queue.put(i)',
      '    asyncio.create_task(produce())',
      '    return [await queue.get() for _ in range(n)]',
      'print(asyncio.run(fetch_all(3)))',
    ].join('\n')
    const tests = [
      'import unittest',
      'async def test_plain():',
      '    assert await fetch_all(2) == [0, 1]',
      'class T(unittest.IsolatedAsyncioTestCase):',
      '    async def test_case(self):',
      '        self.assertEqual(await fetch_all(1), [0])',
      '    async def test_wrong(self):',
      '        self.assertEqual(await fetch_all(1), [1])',
    ].join('\n')
    const report = await py(code, tests)
    expect(counts(report)).toEqual({ outcome: 'failed', ok: false, passed: 2, failed: 1, total: 3 })
    expect(report.output).toMatch(/^\[0, 1, 2\]\n/)
    const stuck = await py('import asyncio\nasyncio.run(asyncio.Event().wait())')
    expect(stuck.error).toContain('the event loop would wait forever')
  })

  it('gives input() an empty stdin', async () => {
    expect((await py('input()')).error).toContain('EOFError')
  })

  it('does not let one run see what the previous one defined', async () => {
    await py('LEFT_BEHIND = 1\nimport builtins\nbuiltins.EXTRA = 2\nopen("notes.txt", "w").write("x")')
    const report = await py(
      'import os\nprint("LEFT_BEHIND" in globals(), hasattr(__builtins__, "EXTRA"), os.listdir("."), os.listdir("/tmp"))',
    )
    expect(report.output).toBe('False False [] []\n')
  })
})

describe('JavaScript runs', () => {
  const JS_ADD = 'function add(a, b) { return a + b }'

  it('counts each test() call and passes a correct solution', async () => {
    const tests = [
      "test('small', () => assert.equal(add(1, 2), 3))",
      "test('arrays', () => assert.deepEqual([add(1, 1), { n: add(2, 2) }], [2, { n: 4 }]))",
      "test('throws', () => { assert.throws(() => { throw new TypeError('bad') }, TypeError) })",
    ].join('\n')
    const report = await js(JS_ADD, tests)
    expect(counts(report)).toEqual({ outcome: 'passed', ok: true, passed: 3, failed: 0, total: 3 })
    expect(report.output).toContain('ok - small')
  })

  it('reports a wrong solution as failing, with the failing assertion', async () => {
    const tests =
      "test('small', () => assert.equal(add(1, 2), 3))\ntest('zero', () => assert.equal(add(0, 0), 0))"
    const report = await js('function add(a, b) { return a - b }', tests)
    expect(counts(report)).toEqual({ outcome: 'failed', ok: false, passed: 1, failed: 1, total: 2 })
    expect(report.error).toBe('small: AssertionError: expected 3, got -1')
    expect(report.output).toContain('FAIL - small')
  })

  it('counts top-level asserts as one test, and a throwing top level as one failure', async () => {
    const passing = await js(
      JS_ADD,
      "assert(add(1, 1) === 2)\nassert.equal(add(2, 2), 4)\ntest('t', () => assert(true))",
    )
    expect(counts(passing)).toEqual({ outcome: 'passed', ok: true, passed: 2, failed: 0, total: 2 })
    const failing = await js(
      JS_ADD,
      "test('t', () => assert(true))\nassert.equal(add(2, 2), 5, 'two and two')",
    )
    expect(counts(failing)).toEqual({ outcome: 'failed', ok: false, passed: 1, failed: 1, total: 2 })
    expect(failing.error).toContain('two and two')
  })

  it('waits for async tests and virtual timers, and fails a test that never finishes', async () => {
    const tests = [
      "test('async ok', async () => { await null; assert.equal(add(1, 2), 3) })",
      "test('timer', () => new Promise((resolve) => setTimeout(resolve, 5000)))",
      "test('async bad', async () => { await Promise.resolve(); assert.equal(add(1, 2), 4) })",
      "test('never', () => new Promise(() => {}))",
    ].join('\n')
    const report = await js(JS_ADD, tests)
    expect(counts(report)).toEqual({ outcome: 'failed', ok: false, passed: 2, failed: 2, total: 4 })
    expect(report.output).toContain('FAIL - never: Error: the test did not finish')
    expect(report.durationMs).toBeLessThan(4_000) // timers run in virtual time
  })

  it('reports an exception in the solution as an error', async () => {
    const report = await js('null.x', "test('t', () => {})")
    expect(counts(report)).toEqual({ outcome: 'error', ok: false, passed: 0, failed: 0, total: 0 })
    expect(report.error).toMatch(/^solution: TypeError/)
  })

  it('prints what console.log and print are given', async () => {
    const report = await js("console.log('a', 1, [2], { b: 3 }); print('c'); console.error('d')")
    expect(report.output).toBe('a 1 [2] {"b":3}\nc\nd\n')
  })

  it('starts every run in a fresh context', async () => {
    await js('globalThis.leftBehind = 1; var alsoLeft = 2')
    const report = await js('console.log(typeof leftBehind, typeof alsoLeft)')
    expect(report.output).toBe('undefined undefined\n')
  })
})
