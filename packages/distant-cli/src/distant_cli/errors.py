"""CLI failures: one line on stderr (or a JSON error on stdout) and exit code 1 (§12.4).

:func:`report` turns any exception into that output; the fast path and the click
application both use it, so a command fails the same way whichever path ran it.
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["CliError", "describe", "report"]


class CliError(Exception):
    """A failure to report to the user; ``hint`` becomes a ``  Try:`` line."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    if not text:
        text = type(exc).__name__
    return text


def describe(exc: BaseException) -> tuple[str, list[str], str | None]:
    """The message, the ``caused by`` chain and the hint of ``exc``."""
    causes: list[str] = []
    seen = {id(exc)}
    cause = exc.__cause__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        causes.append(_message(cause))
        cause = cause.__cause__
    hint = exc.hint if isinstance(exc, CliError) else None
    return _message(exc), causes, hint


def report(exc: BaseException, *, json_format: bool = False, stream: TextIO | None = None) -> int:
    """Print ``exc`` as §12.4 says and return the exit code (1)."""
    message, causes, hint = describe(exc)
    if not isinstance(exc, CliError | OSError) and "logging" in sys.modules:
        import logging  # only if logging is in use: it costs ~4 ms to import

        logging.getLogger("distant_cli").debug("command failed", exc_info=exc)
    if json_format:
        import json

        full = ": ".join([message, *causes])
        out = sys.stdout
        try:
            out.write(json.dumps({"type": "error", "msg": full}, separators=(",", ":")) + "\n")
            out.flush()
        except (OSError, ValueError):
            pass
        return 1
    err = stream or sys.stderr
    prefix = "error:"
    try:
        if err.isatty():
            prefix = "\x1b[31m✗\x1b[0m error:"
    except (AttributeError, ValueError):
        pass
    lines = [f"{prefix} {message}"]
    lines += [f"  caused by: {c}" for c in causes]
    if hint:
        lines.append(f"  Try: {hint}")
    try:
        err.write("\n".join(lines) + "\n")
        err.flush()
    except (OSError, ValueError):
        pass
    return 1
