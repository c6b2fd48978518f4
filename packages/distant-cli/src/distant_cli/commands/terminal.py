"""The local terminal for ``shell``/``spawn --pty``/``ssh``: raw mode that is always
restored, the window size, and window-size changes (``SIGWINCH``)."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import struct
import termios
import tty
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from distant_codec import PtySize

__all__ = ["RawTerminal", "terminal_size", "on_window_change"]


def _winsize(fd: int) -> PtySize | None:
    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, cols, xpixel, ypixel = struct.unpack("HHHH", packed)
    if not rows or not cols:
        return None
    return PtySize(rows, cols, xpixel, ypixel)


def terminal_size() -> PtySize | None:
    """The size of the terminal on stdout (else stdin, else stderr), ``None`` without one."""
    for fd in (1, 0, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                size = _winsize(fd)
                if size is not None:
                    return size
    return None


class RawTerminal:
    """Puts ``fd`` (a terminal) in raw mode until :meth:`restore`, which runs on every exit
    path: normal return, exceptions, ``atexit``; and idempotently. Not a terminal: no-op."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._saved: list[Any] | None = None

    @property
    def active(self) -> bool:
        return self._saved is not None

    def enter(self) -> RawTerminal:
        try:
            if not os.isatty(self.fd):
                return self
            self._saved = termios.tcgetattr(self.fd)
        except (OSError, termios.error):
            return self
        atexit.register(self.restore)
        tty.setraw(self.fd, termios.TCSANOW)
        return self

    def restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
        with contextlib.suppress(Exception):
            atexit.unregister(self.restore)

    def __enter__(self) -> RawTerminal:
        return self.enter()

    def __exit__(self, *exc: object) -> None:
        self.restore()


@contextlib.contextmanager
def on_window_change(callback: Callable[[PtySize], None]) -> Iterator[None]:
    """Call ``callback`` with the new size whenever the terminal is resized (only in the
    main thread; elsewhere, and without a terminal, this does nothing)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        size = terminal_size()
        if size is not None:
            callback(size)

    try:
        previous = signal.signal(signal.SIGWINCH, handler)
    except (ValueError, OSError):  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)
