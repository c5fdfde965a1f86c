import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SandboxPool } from '../src/index.ts'

// The interpreters are the first wall: Python must reach no JavaScript object, however it digs.
const pool = new SandboxPool({ languages: ['python'], deadlineMs: 20_000 })
beforeAll(() => pool.start(), 120_000)
afterAll(() => pool.stop())

async function python(code: string): Promise<string> {
  const report = await pool.run({ language: 'python', code })
  expect(report.outcome, report.output).toBe('passed')
  return report.output
}

/** Every object the collector knows, and every object they refer to, as `module.qualname name`. */
const GC_WALK = `
import gc, types
def describe(v):
    t = type(v)
    return f'{t.__module__}.{t.__qualname__} {getattr(v, "__name__", "") if type(v) is types.ModuleType else ""}'.strip()
IMMUTABLE = 1 << 8  # Pyodide's own proxy types are C types; look-alike stubs are not
def is_proxy(v):
    return any(c.__name__ == 'JsProxy' and c.__flags__ & IMMUTABLE for c in type(v).__mro__) and type(v).__name__ != 'JsNull'
seen = set()
for o in gc.get_objects():
    for v in [o, *gc.get_referents(o)]:
        if isinstance(v, type):
            continue
        if is_proxy(v):
            seen.add('proxy ' + describe(v))
        elif type(v) is types.ModuleType and vars(v) and str(v.__name__).partition('.')[0] in ('js', 'pyodide_js', '_pyodide', '_pyodide_core', 'pyodide'):
            seen.add('module ' + v.__name__)
        elif type(v) is types.BuiltinFunctionType and getattr(getattr(v, '__self__', None), '__name__', '') == '_pyodide_core':
            seen.add('bridge ' + v.__name__)
        elif type(v).__name__ == 'JsFinder' and getattr(v, 'jsproxies', None):
            seen.add('import hook table ' + str(list(v.jsproxies)))
print(sorted(seen))
`

describe('Python reaches no JavaScript object', () => {
  it('finds nothing of JavaScript walking the garbage collector', async () => {
    expect(await python(GC_WALK)).toBe('[]\n')
  })

  it('finds the import hook only with its table of JS modules emptied', async () => {
    const out = await python(`
import gc
finders = [o for o in gc.get_objects() if type(o).__name__ == 'JsFinder']
for klass in object.__subclasses__():
    if klass.__name__ == 'MetaPathFinder':
        finders += [s for s in klass.__subclasses__() if s.__name__ == 'JsFinder']
tables = [dict(f.jsproxies) for f in finders if not isinstance(f, type)]
globals_of_methods = [f.find_spec.__globals__ for f in finders if isinstance(f, type)]
print(tables, [g.get('jsfinder') for g in globals_of_methods])
`)
    expect(out).toMatch(/^\[(\{\}(, )?)*\] \[(None(, )?)*\]\n$/)
  })

  it('cannot import js, pyodide_js or the C bridge, even with the import blocker taken out', async () => {
    const out = await python(`
import sys
import importlib._bootstrap as bootstrap
sys.meta_path[:] = [f for f in sys.meta_path if 'Blocked' not in getattr(f, '__name__', '')]
results = []
for name in ('js', 'pyodide_js', '_pyodide_core', '_ctypes', '_testcapi'):
    try:
        __import__(name)
        results.append(name + ' imported')
    except ImportError:
        results.append(name + ' refused')
try:
    bootstrap._builtin_from_name('_pyodide_core')
    results.append('bridge created')
except ImportError:
    results.append('bridge refused')
import pyodide.ffi
results.append('ffi live' if pyodide.ffi.IN_PYODIDE else 'ffi stubs only')
print(results)
`)
    expect(out).toBe(
      "['js refused', 'pyodide_js refused', '_pyodide_core refused', '_ctypes refused', '_testcapi refused', 'bridge refused', 'ffi stubs only']\n",
    )
  })

  it('cannot make a JavaScript object from the proxy classes it can still name', async () => {
    const out = await python(`
made = []
todo = [object]
while todo:
    for klass in type.__subclasses__(todo.pop()):
        todo.append(klass)
        if klass.__name__.startswith('Js') and 'pyodide' in (klass.__module__ or ''):
            makers = (lambda: klass(), lambda: klass.__new__(klass), lambda: klass('x'),
                      lambda: BaseException.__new__(klass, 'x'), lambda: type('Sub', (klass,), {})('x'))
            for make in makers:
                try:
                    v = make()
                except BaseException:
                    continue
                if any(c.__name__ == 'JsProxy' and c.__flags__ & (1 << 8) for c in type(v).__mro__):
                    made.append(klass.__name__)
print(sorted(set(made)))
`)
    expect(out).toBe('[]\n')
  })
})

describe('QuickJS exposes only the test harness', () => {
  const js = new SandboxPool({ languages: ['javascript'] })
  beforeAll(() => js.start(), 60_000)
  afterAll(() => js.stop())

  it('has no host globals: no process, require, fetch, Buffer, WebAssembly, std or os', async () => {
    const report = await js.run({
      language: 'javascript',
      code: `print(JSON.stringify(['process', 'require', 'fetch', 'WebAssembly', 'Buffer', 'globalThis.std', 'globalThis.os'].map((n) => { try { return n + ':' + typeof eval(n) } catch { return n + ':none' } })))`,
    })
    expect(report.output).toContain(
      '["process:none","require:none","fetch:none","WebAssembly:none","Buffer:none","globalThis.std:undefined","globalThis.os:undefined"]',
    )
  })
})
