"""Pseudo-terminals for ``proc_spawn`` with a ``pty`` (POSIX only).

:func:`open_pty` allocates a master/slave pair of the requested size. The child is started
with the slave as its stdin, stdout and stderr, in a new session (``start_new_session``),
and :func:`acquire_controlling_terminal` runs in the child (as ``preexec_fn``, after
``setsid``) to make the slave its controlling terminal: that is what gives it job control,
``^C`` and ``SIGWINCH`` when :func:`set_size` resizes the terminal.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios

from distant_codec import PtySize

__all__ = ["acquire_controlling_terminal", "get_size", "open_pty", "set_size"]

_WINSIZE = struct.Struct("HHHH")  # struct winsize: rows, cols, x pixels, y pixels


def open_pty(size: PtySize) -> tuple[int, int]:
    """A new pseudo-terminal of ``size``: ``(master, slave)``, both non-inheritable.

    The master is non-blocking (read it with ``anyio.wait_readable``); the slave is left
    blocking, as a terminal program expects.
    """
    master, slave = os.openpty()
    try:
        set_size(master, size)
        os.set_blocking(master, False)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave


def set_size(fd: int, size: PtySize) -> None:
    """Set the terminal size (``TIOCSWINSZ``); the kernel then sends ``SIGWINCH`` to the
    terminal's foreground process group."""
    packed = _WINSIZE.pack(size.rows, size.cols, size.pixel_width, size.pixel_height)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, packed)


def get_size(fd: int) -> PtySize:
    """The terminal size (``TIOCGWINSZ``)."""
    packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(_WINSIZE.size))
    rows, cols, pixel_width, pixel_height = _WINSIZE.unpack(packed)
    return PtySize(rows, cols, pixel_width, pixel_height)


def acquire_controlling_terminal() -> None:
    """Run in the child, after ``setsid``: make its stdin (the slave) its controlling
    terminal. Keep this tiny: it runs between ``fork`` and ``exec``."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
