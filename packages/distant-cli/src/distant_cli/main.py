"""The ``distant`` entry point.

:func:`main` first tries the fast path (:mod:`distant_cli.fastpath`: common one-shot
commands, parsed by hand, without importing click); everything else goes to the click
application (:mod:`distant_cli.app`). ``distant server listen ARGS`` goes straight to
``distant-server listen ARGS``, the same code as the ``distant-server`` entry point.

``DISTANT_NO_FASTPATH=1`` in the environment turns the fast path off (for tests and for
comparing both paths).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["FEATURES", "main"]

FEATURES = "[docker, host, pty, ssh]"
"""What ``distant --version`` lists after the version, as upstream."""


def _dispatch(args: list[str]) -> int:
    if os.environ.get("_DISTANT_COMPLETE") is None:
        if args == ["--version"]:
            from . import __version__

            sys.stdout.write(f"distant {__version__} {FEATURES}\n")
            return 0
        if args[:2] == ["server", "listen"]:
            from .commands.daemons import server_listen
            from .errors import report
            from .session import Globals

            try:
                return server_listen(Globals(), args[2:])
            except Exception as exc:
                return report(exc)
        if not os.environ.get("DISTANT_NO_FASTPATH"):
            from .fastpath import run_fast

            code = run_fast(args)
            if code is not None:
                return code
    from .app import run

    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``distant`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _dispatch(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``distant fs read f | head``): not worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code
