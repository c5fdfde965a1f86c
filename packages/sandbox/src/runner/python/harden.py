"""Hardens the interpreter once, when a sandbox worker starts.

Python cannot reach the host file system here (Emscripten's in-memory file system), but
Pyodide leaves doors open that lead out of it: the ``js``/``pyodide`` modules reach the
JavaScript realm, ``os.system`` spawns a host shell, and sockets become WebSocket
connections. The worker closes the JavaScript side too; this closes the Python side.
"""

# The harness keeps its own copy of the builtins, so a run that replaces ``builtins.len``
# or ``builtins.isinstance`` cannot change how the harness counts.
__builtins__ = dict(__import__('builtins').__dict__)

import ast
import builtins
import gc
import io
import json
import os
import posix
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import types
import unittest
import warnings

# Loaded now so that runs find them warm and get them back unmodified after every run.
import abc, bisect, collections, collections.abc, contextlib, copy, dataclasses
import datetime, decimal, enum, fractions, functools, heapq, itertools, math
import operator, random, re, statistics, string, textwrap, typing

HOME = '/home/sandbox'
MAX_RECURSION_LIMIT = 100_000
# The worker names each harness file `<sandbox:...>`; tracebacks leave those frames out.
HARNESS_PREFIX = '<sandbox:'

# Modules that lead into the JavaScript realm, or let Python poke at raw memory.
BLOCKED_ROOTS = frozenset({'js', 'pyodide_js', 'pyodide', '_pyodide', '_pyodide_core', 'micropip', 'ctypes', '_ctypes'})

PROCESS_CALLS = (
    'system', 'popen', 'fork', 'forkpty', 'execv', 'execve', 'execl', 'execle', 'execlp', 'execlpe',
    'execvp', 'execvpe', 'spawnv', 'spawnve', 'spawnl', 'spawnle', 'spawnlp', 'spawnlpe', 'spawnvp',
    'spawnvpe', 'posix_spawn', 'posix_spawnp', 'kill', 'killpg', 'chmod', 'fchmod', 'lchmod', 'chown',
    'fchown', 'lchown', 'chroot', 'setuid', 'setgid', 'register_at_fork',
)
NETWORK_CALLS = ('create_connection', 'create_server', 'getaddrinfo', 'gethostbyname', 'gethostbyname_ex',
                 'gethostbyaddr', 'socketpair', 'fromfd')
SOCKET_METHODS = ('connect', 'connect_ex', 'bind', 'listen', 'sendto')


def _deny(what):
    def denied(*args, **kwargs):
        raise PermissionError(f'{what} is not permitted in the sandbox')
    denied.__name__ = what.rpartition('.')[2]
    denied.__qualname__ = denied.__name__
    return denied


def _exit(status=0):
    # os._exit would end the interpreter and its worker; ending the run is what it means here.
    raise SystemExit(status)


class BlockedImports:
    """Refuses modules through which Python reaches the JavaScript host."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition('.')[0] in BLOCKED_ROOTS:
            raise ModuleNotFoundError(f'No module named {name!r} (not available in the sandbox)', name=name)
        return None


# Builtin modules a run may never create again: the bridge to JavaScript, raw memory, CPython's
# test hooks. Creating a builtin is the one way back to them once their modules are gone.
NEVER_BUILTIN = frozenset({'_pyodide_core', '_ctypes', '_testcapi', '_testinternalcapi', '_testlimitedcapi',
                           '_testbuffer', '_testclinic', '_testclinic_limited', '_xxtestfuzz',
                           '_remote_debugging', '_posixsubprocess', 'xxsubtype'})


def _from_javascript(value):
    """True for what leads to the JavaScript realm: Pyodide's modules, types and objects, and
    the functions of its C bridge."""
    kind = type(value)
    if kind is types.ModuleType:
        return getattr(value, '__name__', '').partition('.')[0] in BLOCKED_ROOTS
    if kind is types.BuiltinFunctionType:
        owner = getattr(value, '__self__', None)
        return type(owner) is types.ModuleType and getattr(owner, '__name__', '') == '_pyodide_core'
    module = getattr(kind, '__module__', None)
    if isinstance(module, str) and module.partition('.')[0] in BLOCKED_ROOTS:
        return True
    return kind.__name__.startswith('Js') and module == 'builtins'


def sever_javascript():
    """Drops every path from Python to a JavaScript object: the import hook's table of JS modules
    (``js``, ``pyodide_js``), Pyodide's own modules, its bridge's functions wherever a dict holds
    them (the builtin module's saved copy too), and the ability to create the bridge again.

    The worker calls it once the harness is loaded, straight from JavaScript, so that no frame of
    Pyodide's own code is live; it raises, and the worker refuses to start, if anything is left.
    """
    hook = sys.modules.get('_pyodide._importhook')
    finder = getattr(hook, 'jsfinder', None)
    if finder is not None:
        finder.jsproxies.clear()
    bridge = [m for n, m in sys.modules.items() if n.partition('.')[0] in BLOCKED_ROOTS]
    import _imp
    allowed = {}
    for name in sys.builtin_module_names:
        if name not in NEVER_BUILTIN and name not in BLOCKED_ROOTS:
            try:
                allowed[name] = __import__(name)
            except ImportError:
                pass
    def create_builtin(spec):
        if spec.name in allowed:
            return allowed[spec.name]
        raise ImportError(f'No module named {spec.name!r} (not available in the sandbox)', name=spec.name)
    _imp.create_builtin = create_builtin
    for name in ('create_dynamic', 'exec_dynamic'):
        if hasattr(_imp, name):
            delattr(_imp, name)
    for name in list(sys.modules):
        if name.partition('.')[0] in BLOCKED_ROOTS or name in NEVER_BUILTIN:
            del sys.modules[name]
    for module in bridge:
        vars(module).clear()
    for _ in range(2):
        for holder in gc.get_objects():
            if type(holder) is types.ModuleType:
                if _from_javascript(holder):
                    vars(holder).clear()
                continue
            if type(holder) is list:
                holder[:] = [v for v in holder if not _from_javascript(v)]
                continue
            if type(holder) is dict:
                attrs = holder
            elif isinstance(holder, type) or _from_javascript(holder):
                continue
            else:
                # Instance attributes may live inline, without a dict object gc would list.
                try:
                    attrs = object.__getattribute__(holder, '__dict__')
                except (AttributeError, TypeError):
                    continue
                if type(attrs) is not dict:
                    continue
            for key in [k for k, v in attrs.items() if _from_javascript(v)]:
                del attrs[key]
        gc.collect()
    left = {_describe_leak(o) for o in gc.get_objects() if _leads_out(o)}
    for holder in gc.get_objects():
        left.update(f'{_describe_leak(r)} in {type(holder).__qualname__}' for r in gc.get_referents(holder) if _leads_out(r))
    if left:
        raise RuntimeError(f'JavaScript objects still reachable from Python: {sorted(left)[:10]}')
    # The state every run is reset to was taken when the harness loaded: take it again, without
    # the bridge, or the reset would put Pyodide's emptied modules back into sys.modules.
    global PRISTINE
    PRISTINE = take_snapshot()  # noqa: F821 (defined by state.py, loaded after this file)


def _leads_out(value):
    """What must be gone once severed: a proxy of a JavaScript value (JavaScript's null aside),
    a Pyodide module that still has its contents, a function of the C bridge."""
    if type(value) is types.ModuleType:
        return _from_javascript(value)
    if type(value) is types.BuiltinFunctionType:
        return _from_javascript(value)
    if isinstance(value, type):
        return False
    # Pyodide's proxy types are C types (immutable); the pure-Python stubs of its docs are not.
    return any(c.__name__ == 'JsProxy' and c.__module__ == 'pyodide.ffi' and c.__flags__ & (1 << 8)
               for c in type(value).__mro__) and type(value).__name__ != 'JsNull'


def _describe_leak(value):
    return f'{type(value).__module__}.{type(value).__qualname__} {getattr(value, "__name__", "")}'.strip()


def _close_host_modules():
    for name in list(sys.modules):
        if name.partition('.')[0] in BLOCKED_ROOTS:
            del sys.modules[name]
    sys.meta_path[:] = [BlockedImports] + [
        finder for finder in sys.meta_path
        if not getattr(finder, '__module__', type(finder).__module__).startswith(('_pyodide', 'pyodide'))
    ]
    main = sys.modules['__main__'].__dict__
    for name in [n for n in main if not n.startswith('__')]:
        del main[name]


def _close_processes_and_network():
    for module in (os, posix):
        for name in PROCESS_CALLS:
            if hasattr(module, name):
                setattr(module, name, _deny(f'os.{name}'))
        module._exit = _exit
    subprocess.Popen._execute_child = _deny('subprocess')
    for name in NETWORK_CALLS:
        if hasattr(socket, name):
            setattr(socket, name, _deny(f'socket.{name}'))
    for name in SOCKET_METHODS:
        setattr(socket.socket, name, _deny(f'socket.{name}'))
    os.environ.clear()


def _interruptible_sleep():
    # Pyodide's sleep blocks its thread for the whole duration, deaf to the interrupt:
    # sleeping in short slices lets the deadline stop `time.sleep(10**6)`.
    real_sleep = getattr(time.sleep, '__wrapped__', time.sleep)  # under Pyodide's wrapper
    monotonic = time.monotonic

    def sleep(seconds, /):
        if seconds < 0:
            raise ValueError('sleep length must be non-negative')
        end = monotonic() + seconds
        while (left := end - monotonic()) > 0:
            real_sleep(min(left, 0.02))

    sleep.__doc__ = real_sleep.__doc__
    time.sleep = sleep


def _clamp_recursion_limit():
    # Deeper than this, unwinding or repr-ing the recursion overflows the worker's native
    # stack and kills the interpreter instead of raising RecursionError.
    real_setrecursionlimit = sys.setrecursionlimit

    def setrecursionlimit(limit, /):
        real_setrecursionlimit(min(limit, MAX_RECURSION_LIMIT))

    setrecursionlimit.__doc__ = real_setrecursionlimit.__doc__
    sys.setrecursionlimit = setrecursionlimit


def _guard_interrupt_handler():
    # The deadline arrives as SIGINT, so a run may not install a handler that swallows it.
    # Setting one is ignored rather than refused: asyncio.run sets one as a matter of course.
    real_signal = signal.signal

    def guarded(signalnum, handler, /):
        if signalnum == signal.SIGINT:
            return signal.getsignal(signal.SIGINT)
        return real_signal(signalnum, handler)

    guarded.__doc__ = real_signal.__doc__
    signal.signal = guarded


def _seal_file_system():
    # Only the run's home and /tmp stay writable, so a run cannot replace the standard
    # library that later runs import; both are emptied after every run.
    chmod = posix.chmod
    for top in ('/lib', '/home/pyodide', '/home/web_user'):
        for root, dirs, files in os.walk(top):
            for name in files:
                chmod(os.path.join(root, name), 0o444)
            chmod(root, 0o555)
    os.makedirs(HOME, exist_ok=True)
    chmod(HOME, 0o777)
    chmod('/tmp', 0o777)
    for path in ('/home', '/'):
        chmod(path, 0o555)
    os.chdir(HOME)


def empty_scratch_dirs():
    for top in (HOME, '/tmp'):
        for name in os.listdir(top):
            path = os.path.join(top, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)


_seal_file_system()
_close_host_modules()
_close_processes_and_network()
_interruptible_sleep()
_clamp_recursion_limit()
_guard_interrupt_handler()
gc.collect()
