"""The child process of an external plugin: starting it, draining its stderr into the log,
reading its stdout line by line during setup, and stopping it.

The plugin runs in a session (process group) of its own, so stopping it also stops what it
started (a server it proxies to, say): SIGTERM to the group, SIGKILL after
:data:`TERMINATE_GRACE` seconds, and the process is always reaped.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import subprocess

import anyio
import anyio.abc

__all__ = [
    "LOGGER_NAME",
    "MAX_SETUP_LINE",
    "STDERR_TAIL",
    "TERMINATE_GRACE",
    "READ_SIZE",
    "StderrPump",
    "SetupLineTooLong",
    "StdoutLines",
    "close_streams",
    "describe_exit",
    "spawn",
    "terminate",
]

LOGGER_NAME = "distant_plugins.external"
log = logging.getLogger(LOGGER_NAME)

TERMINATE_GRACE = 3.0
"""Seconds a plugin has to exit after SIGTERM before it gets SIGKILL."""

READ_SIZE = 64 * 1024
"""Bytes asked for per read of the plugin's stdout and stderr."""

MAX_SETUP_LINE = 1024 * 1024
"""The longest setup line (JSON) a plugin may write; longer is an error, not an allocation."""

MAX_LOG_LINE = 8 * 1024
"""Stderr lines longer than this are logged in pieces."""

STDERR_TAIL = 10
"""How many of the last stderr lines an error message quotes."""


async def spawn(argv: list[str]) -> anyio.abc.Process:
    """Start the plugin with all three stdio streams piped, in its own session."""
    return await anyio.open_process(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


async def terminate(process: anyio.abc.Process, grace: float = TERMINATE_GRACE) -> None:
    """Stop the plugin's process group (SIGTERM, then SIGKILL) and reap the plugin.

    The group is only signalled while the plugin is not yet reaped: until then its pid (which
    is the group id) cannot have been reused.
    """
    with anyio.CancelScope(shield=True):
        if process.stdin is not None:
            with contextlib.suppress(Exception):
                await process.stdin.aclose()
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            with anyio.move_on_after(grace):
                await process.wait()
            if process.returncode is None:
                _signal_group(process.pid, signal.SIGKILL)
        await process.wait()


async def close_streams(process: anyio.abc.Process) -> None:
    """Release the pipes to an exited plugin (their readers then end)."""
    with anyio.CancelScope(shield=True):
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def describe_exit(code: int | None) -> str:
    """``exited with code 3`` / ``was killed by signal 9``."""
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"was killed by signal {name}"
    return f"exited with code {code}"


class StderrPump:
    """Reads the plugin's stderr until EOF and logs it line by line, so the pipe never fills;
    keeps the last :data:`STDERR_TAIL` lines for error messages."""

    def __init__(self, plugin: str, stream: anyio.abc.ByteReceiveStream) -> None:
        self.plugin = plugin
        self._stream = stream
        self.tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self.done = anyio.Event()

    async def run(self) -> None:
        pending = b""
        try:
            while True:
                try:
                    chunk = await self._stream.receive(READ_SIZE)
                except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._emit(line)
                while len(pending) > MAX_LOG_LINE:
                    self._emit(pending[:MAX_LOG_LINE])
                    pending = pending[MAX_LOG_LINE:]
            if pending:
                self._emit(pending)
        finally:
            self.done.set()

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self.tail.append(line)
        log.info("plugin %r: %s", self.plugin, line)

    async def wait(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until stderr reached EOF."""
        with anyio.move_on_after(timeout):
            await self.done.wait()

    def last_lines(self) -> str:
        """The last stderr lines, for an error message ('' if it wrote nothing)."""
        lines = [line for line in self.tail if line.strip()]
        return "\n".join(lines)


class SetupLineTooLong(Exception):
    """The plugin wrote more than :data:`MAX_SETUP_LINE` bytes without a newline."""


class StdoutLines:
    """Line reads from the plugin's stdout during setup, keeping whatever follows the last
    line read (the start of the data phase) for the frame reader."""

    def __init__(self, stream: anyio.abc.ByteReceiveStream) -> None:
        self.stream = stream
        self._buf = bytearray()
        self._eof = False

    async def readline(self) -> bytes | None:
        """The next line without its newline; ``None`` at EOF (a last unterminated line is
        returned first)."""
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > MAX_SETUP_LINE:
                raise SetupLineTooLong(f"a setup line longer than {MAX_SETUP_LINE} bytes")
            if self._eof:
                if self._buf:
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line
                return None
            try:
                self._buf += await self.stream.receive(READ_SIZE)
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._eof = True

    def leftover(self) -> bytes:
        """Bytes read past the last line (the data phase already began)."""
        data = bytes(self._buf)
        self._buf.clear()
        return data
