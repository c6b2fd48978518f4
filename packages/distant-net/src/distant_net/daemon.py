"""``--daemon``: fork, let the parent report, and detach the child from the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

__all__ = ["detach"]

_READY_TIMEOUT = 30.0


def detach(run: Callable[[Callable[[], None]], int], *, name: str = "server") -> int:
    """Fork. The child starts a new session and calls ``run(ready)``; it must call
    ``ready()`` once it is serving (a server: once it printed its credentials), which tells
    the parent to report ``[distant <name> detached, pid = N]`` and exit 0, and points the
    child's standard streams at /dev/null so that whoever launched it (an ssh session) is
    not held open.
    If the child fails before it is ready, the parent exits 1."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:  # parent
        os.close(write_fd)
        print(f"[distant {name} detached, pid = {pid}]", flush=True)
        ok = _wait_ready(read_fd)
        os.close(read_fd)
        return 0 if ok else 1
    os.close(read_fd)
    os.setsid()

    def ready() -> None:
        os.write(write_fd, b"1")
        os.close(write_fd)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)

    code = 1
    try:
        code = run(ready)
    except BaseException:  # the forked child must never return into the caller's code
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _wait_ready(fd: int) -> bool:
    import select

    readable, _, _ = select.select([fd], [], [], _READY_TIMEOUT)
    return bool(readable) and os.read(fd, 1) == b"1"
