"""An asyncio event loop for the sandbox.

Pyodide's own loop schedules through JavaScript, which harden.py has closed. This one is
an ordinary selector loop whose selector has nothing to watch and simply sleeps until the
next timer is due, so ``asyncio.run``, ``asyncio.sleep``, tasks, queues and
``IsolatedAsyncioTestCase`` work, while sockets and pipes stay unavailable.
"""

# Runs in the harness namespace, after harden.py.

import asyncio
import selectors


class SleepSelector(selectors.BaseSelector):
    """A selector with no file descriptors: waiting means sleeping until the next timer."""

    def register(self, fileobj, events, data=None):
        raise PermissionError('watching file descriptors is not permitted in the sandbox')

    def unregister(self, fileobj):
        raise KeyError(fileobj)

    def select(self, timeout=None):
        if timeout is None:
            raise RuntimeError('the event loop would wait forever: nothing is scheduled to wake it')
        if timeout > 0:
            time.sleep(timeout)
        return []

    def close(self):
        pass

    def get_map(self):
        return {}


class SandboxEventLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        super().__init__(SleepSelector())

    # The self-pipe wakes a loop waiting on sockets from other threads; there are neither.
    def _make_self_pipe(self):
        pass

    def _close_self_pipe(self):
        pass

    def _write_to_self(self):
        pass


class SandboxEventLoopPolicy(asyncio.events._BaseDefaultEventLoopPolicy):
    _loop_factory = SandboxEventLoop


def _install_event_loop():
    asyncio.run = getattr(asyncio.run, '__wrapped__', asyncio.run)  # undo Pyodide's wrapper
    asyncio.events._set_running_loop(None)
    asyncio.events._set_event_loop_policy(SandboxEventLoopPolicy())


_install_event_loop()
