"""How many traces are running their function now.

Generated code and the driver check their arguments for boxes (and run a traced
copy of themselves) only while this is not zero.  It is its own module so that
reading it loads neither the tracer nor the rule library.
"""

RUNNING = [0]

import threading

_LOCK = threading.Lock()


_local = threading.local()      # this thread's running traces, innermost last


def enter(trace=None):
    """A trace starts running its function (``RUNNING[0] += 1``, atomically: traces may run
    in several threads at once); ``trace`` is this thread's innermost one until ``leave``."""
    with _LOCK:
        RUNNING[0] += 1
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(trace)


def leave():
    """A trace's function returned (or raised)."""
    with _LOCK:
        RUNNING[0] -= 1
    stack = getattr(_local, "stack", None)
    if stack:
        stack.pop()


def current():
    """The innermost trace running its function in this thread, or ``None``."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None
