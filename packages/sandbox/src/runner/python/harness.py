"""Runs a solution, then its tests, in one fresh namespace, and counts the tests that ran.

Tests may be ``unittest.TestCase`` classes (each test method counts), ``def test_*``
functions, plain or ``async`` (each counts), or plain asserts at the top level (together
they count as one).
"""

# Runs in the harness namespace, after harden.py and state.py.

import inspect
import linecache
import reprlib
import unittest.suite

PRISTINE = take_snapshot()
OUT, ERR = sys.stdout, sys.stderr
MAX_FRAMES = 40
# What the harness itself relies on; put back before the tests run, so that a solution
# that rebinds, say, ``unittest.TestResult.addFailure`` cannot fake the count.
HARNESS_DEPS = frozenset({'builtins', 'unittest', 'traceback', 'linecache', 'inspect', 'json', 'ast', 'io',
                          'types', 'difflib', 'pprint', 'reprlib', 'collections', 'functools',
                          'contextlib', 'warnings', 're', 'enum', 'sys', 'os', 'time', 'signal', 'asyncio',
                          'selectors'})


def _harness_dep(name):
    return name.partition('.')[0] in HARNESS_DEPS


def _write(text):
    try:
        OUT.flush()
        ERR.write(text)
        ERR.flush()
    except (OSError, ValueError):
        pass  # the run closed or broke its own streams


def _describe(exc):
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == 'builtins' else f'{kind.__module__}.{kind.__qualname__}'
    try:
        detail = str(exc)
    except BaseException:
        detail = '<unprintable>'
    return f'{name}: {detail}' if detail else name


def _print_traceback(exc):
    # The harness's own frames (a refused os.system, say) are noise to whoever reads this.
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(HARNESS_PREFIX):
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    # A deep stack (an endless recursion) keeps its innermost frames, and also the tests' own
    # frames it began in: they say which test broke.
    outer = []
    if len(frames) > MAX_FRAMES:
        while len(outer) < 3 and frames[len(outer)][0].f_code.co_filename == '<tests>':
            outer.append(frames[len(outer)])
    summary = lambda part: traceback.format_list(traceback.StackSummary.extract(part))
    lines = summary(frames[-MAX_FRAMES:]) if frames else []
    if len(frames) > MAX_FRAMES:
        lines.insert(0, f'  ... {len(frames) - MAX_FRAMES - len(outer)} frames between\n')
        lines[:0] = summary(outer)
    head = ['Traceback (most recent call last):\n'] if lines else []
    _write(''.join(head + lines + traceback.format_exception_only(type(exc), exc)))


_OPS = {ast.Eq: '', ast.NotEq: '!= ', ast.Lt: '< ', ast.LtE: '<= ', ast.Gt: '> ', ast.GtE: '>= ',
        ast.Is: 'is ', ast.IsNot: 'is not ', ast.In: 'in ', ast.NotIn: 'not in '}


def _explain_assert(exc, tree):
    """Gives a bare failed ``assert f(x) == y`` in the tests a message saying what each side was.

    Without it the report says only ``AssertionError``, and a model told that cannot tell a wrong
    base case from a wrong formula. Both sides are evaluated again, in the failing frame's own
    names, inside the same sandbox and deadline; if either raises, the assert stays as it was.
    """
    if type(exc) is not AssertionError or exc.args:
        return
    frame = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == '<tests>':
            frame, line = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    if frame is None:
        return
    node = next((n for n in ast.walk(tree) if isinstance(n, ast.Assert) and n.lineno == line), None)
    if node is None or node.msg is not None or not isinstance(node.test, ast.Compare):
        return
    test = node.test
    if len(test.ops) != 1 or type(test.ops[0]) not in _OPS:
        return
    try:
        sides = []
        for side in (test.left, test.comparators[0]):
            expr = ast.fix_missing_locations(ast.Expression(body=side))
            sides.append(reprlib.repr(eval(compile(expr, '<tests>', 'eval'), frame.f_globals, frame.f_locals)))
        shown = ast.unparse(test.left)
    except Exception:
        return
    exc.args = (f'{shown} is {sides[0]}, expected {_OPS[type(test.ops[0])]}{sides[1]}',)


def _note_failure(state, label, exc=None, text=''):
    if isinstance(exc, MemoryError) or 'MemoryError' in text:
        state['memory'] = True
    if state['error'] is None:
        lines = text.strip().splitlines()
        detail = _describe(exc) if exc is not None else (lines[-1] if lines else 'failed')
        state['error'] = f'{label}: {detail}'


def _execute(source, filename, namespace):
    """Runs source in the namespace; returns what it raised (SyntaxError included), or None."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        exec(compile(source, filename, 'exec', dont_inherit=True), namespace)
    except SystemExit as exit:
        return None if exit.code in (None, 0) else exit
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return exc
    return None


def _has_top_level_assert(tree):
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Assert):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    return False


def _discover(namespace, before):
    classes, functions = [], []
    for name, value in list(namespace.items()):
        if before.get(name, _MISSING) is value:
            continue  # defined by the solution, not the tests
        if isinstance(value, type) and issubclass(value, unittest.TestCase):
            if not value.__module__.startswith('unittest'):
                classes.append(value)
        elif isinstance(value, types.FunctionType) and name.startswith('test'):
            functions.append((name, value))
    return classes, functions


def _run_test_cases(classes, state):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(cls) for cls in classes)
    result = unittest.TextTestRunner(stream=ERR, verbosity=2).run(suite)
    holders = [test for test, _ in result.errors if isinstance(test, unittest.suite._ErrorHolder)]
    failed = set()
    for test, text in result.failures + result.errors:
        _note_failure(state, str(test), text=text)
        if not isinstance(test, unittest.suite._ErrorHolder):
            failed.add(id(getattr(test, 'test_case', test)))  # subtests count for their test
    for test in result.unexpectedSuccesses:
        failed.add(id(test))
        _note_failure(state, str(test), text='unexpected success')
    total = result.testsRun - len(result.skipped) + len(holders)
    state['total'] += total
    state['failed'] += min(total, len(failed) + len(holders))
    state['passed'] += max(0, total - len(failed) - len(holders))


def _run_test_functions(functions, state, tree):
    for name, function in functions:
        state['total'] += 1
        _write(f'{name} ... ')
        try:
            outcome = function()
            if inspect.iscoroutine(outcome):
                asyncio.run(outcome)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            _explain_assert(exc, tree)
            state['failed'] += 1
            _write('FAIL\n')
            _print_traceback(exc)
            _note_failure(state, name, exc)
        else:
            state['passed'] += 1
            _write('ok\n')


def _skip_main(*args, **kwargs):
    """Stands in for ``unittest.main()`` in tests: the harness runs the tests itself."""


def _run_phases(code, tests, namespace, state):
    failure = _execute(code, '<solution>', namespace)
    if failure is not None:
        _print_traceback(failure)
        state['status'] = 'exception'
        _note_failure(state, 'solution', failure)
        return
    if not tests.strip():
        return
    restore(PRISTINE, only=_harness_dep, prune=False)
    unittest.main = _skip_main
    try:
        tree = ast.parse(tests, '<tests>')
    except (SyntaxError, ValueError) as exc:
        _print_traceback(exc)
        state['status'] = 'exception'
        _note_failure(state, 'tests', exc)
        return
    before = dict(namespace)
    failure = _execute(tests, '<tests>', namespace)
    if failure is not None:
        _explain_assert(failure, tree)
    restore(PRISTINE, only=_harness_dep, prune=False)
    if failure is not None:
        state['total'] += 1
        state['failed'] += 1
        _write('FAIL: tests (top level)\n')
        _print_traceback(failure)
        _note_failure(state, 'tests', failure)
    elif _has_top_level_assert(tree):
        state['total'] += 1
        state['passed'] += 1
    classes, functions = _discover(namespace, before)
    if classes:
        _run_test_cases(classes, state)
    _run_test_functions(functions, state, tree)
    _write(f"Ran {state['total']} tests: {state['passed']} passed, {state['failed']} failed\n")


def run(code, tests):
    """Runs one request; returns the report as JSON and leaves the interpreter as it found it."""
    state = {'status': 'completed', 'passed': 0, 'failed': 0, 'total': 0, 'error': None, 'memory': False,
             'recycle': False}
    # A fresh __main__ module, so that pickle, typing.get_type_hints and dataclasses find
    # the solution's names where they look for them.
    main = types.ModuleType('__main__')
    main.__builtins__ = builtins
    namespace = main.__dict__
    sys.modules['__main__'] = main
    try:
        _run_phases(code, tests, namespace, state)
    except KeyboardInterrupt:
        state['status'] = 'interrupted'
    except BaseException as exc:
        state['status'] = 'exception'
        state['error'] = f'sandbox harness failed: {_describe(exc)}'
        state['recycle'] = True
    _write('')
    namespace.clear()
    try:
        restore(PRISTINE)
        reset_process_state(BASELINE)
    except BaseException:
        state['recycle'] = True
    if state.pop('memory') and state['status'] != 'interrupted':
        state['status'] = 'memory'
    return json.dumps(state)


run
