"""The ssh Api's processes: exec channels, with a PTY where asked.

``cmd`` runs through the remote user's shell, as ``ssh host cmd`` would run it (so the
host's "no shell" word splitting does not apply: the remote shell splits and expands).
``environment`` is exported first (sshd drops most ``env`` channel requests, so they are
not relied on) and ``current_dir`` is entered with ``cd``; the shell prints its pid (see
:data:`PID_PREFIX`) and the command is then ``exec``ed, so a signal reaches it, not a
wrapping shell:

    export NAME='value'; cd '/some dir' || exit; command -v PROG >/dev/null 2>&1
    && echo $$ || echo @@distant-not-found; exec CMD

A missing ``current_dir`` is ``not_found`` before anything runs (checked over SFTP). A
missing program is ``not_found`` too, like the host's failed spawn, without a round trip
of its own: when ``CMD`` starts with a plain word (no quotes, expansions or assignments;
else the check is left out and the shell's own "not found" goes to stderr, exit status
127), ``command -v`` looks it up in the same shell line (after the ``cd`` and the exports,
so ``PATH`` and relative paths are the command's own) and a marker line replaces the pid.
Builtins, functions and keywords pass the check (so a pure builtin such as ``exit``, which
``exec`` cannot run, still ends with the shell's 127 rather than ``not_found``).

A death by signal ends with ``proc_done{success: false, code: None}`` on both backends
(asyncssh sees sshd's ``exit-signal``; the openssh backend tells it from a remote
``exit 255`` through its mux client's log, see :mod:`.openssh_backend`).

``proc_spawned`` is the reply; ``proc_stdout``/``proc_stderr`` then stream (at most 64 KiB
each) and ``proc_done`` comes once both streams are at end of file and the channel has
closed, never before the last output. Processes belong to their connection: closing it
kills them (``KILL`` signal, then the channel is closed).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from distant_codec import ErrorKind
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import ExtendedResponse
from distant_server import Api, ApiContext, ApiError

from .session import RemoteProcess, SshSession

__all__ = ["SshProcessOps", "RemoteProcessTable", "TrackedProcess", "spawn_command"]

Send = Callable[[ExtendedResponse], Awaitable[None]]
MAX_CHUNK = 64 * 1024
DEFAULT_TERM = "xterm-256color"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def spawn_command(cmd: str, environment: dict[str, str], current_dir: str | None) -> str:
    """The shell command line that runs ``cmd`` with ``environment`` in ``current_dir``,
    printing its pid first (see :class:`TrackedProcess`)."""
    if not cmd.strip():
        raise ApiError(ErrorKind.INVALID_INPUT, "the command is empty")
    parts = []
    for name, value in environment.items():
        if not _NAME.match(name):
            raise ApiError(ErrorKind.INVALID_INPUT, f"invalid environment variable name {name!r}")
        parts.append(f"export {name}={shlex.quote(value)}; ")
    if current_dir is not None:
        parts.append(f"cd {shlex.quote(current_dir)} || exit; ")
    program = leading_program(cmd)
    if program is None:
        parts.append(PID_PREFIX)
    else:
        parts.append(
            f"command -v {program} >/dev/null 2>&1 && echo $$ || echo {NOT_FOUND_MARKER}; "
        )
    parts.append(f"exec {cmd}")
    return "".join(parts)


_PLAIN_WORD = re.compile(r"\s*([A-Za-z0-9_./+,:@%][A-Za-z0-9_./+,:@%-]*)(?:\s|$)")


def leading_program(cmd: str) -> str | None:
    """The program ``cmd`` runs, when its first word is plain (nothing the shell would
    expand, unquote or take as an assignment); else ``None``."""
    found = _PLAIN_WORD.match(cmd)
    return found.group(1) if found else None


NOT_FOUND_MARKER = "@@distant-not-found"
"""Printed instead of the pid when the program to ``exec`` is not found."""


PID_PREFIX = "echo $$; "
"""Prepended to every command: its first output line is the pid of the process (the shell
``exec``s the command, keeping the pid). sshd makes it a session and process group
leader, so ``kill -KILL -<pid>`` ends it with its children, on any server (OpenSSH only
honours ``signal`` channel requests in some configurations, and closing a channel without
a PTY does not end the process)."""
PID_TIMEOUT = 15.0


class TrackedProcess:
    """A :class:`RemoteProcess` started with :data:`PID_PREFIX`: :meth:`start` reads the
    pid line; :meth:`stdout` is the output after it; :meth:`kill` kills the process group
    through a ``kill`` command, then ends the channel."""

    def __init__(self, session: SshSession, process: RemoteProcess) -> None:
        self.session = session
        self.process = process
        self.pid: int | None = None
        self._stdout = process.stdout.__aiter__()
        self._pending = b""
        self._killed = False
        self.missing = False
        """The marker of :func:`spawn_command` came instead of a pid: no such program."""

    async def start(self) -> None:
        buffer = b""
        with anyio.move_on_after(PID_TIMEOUT):
            while b"\n" not in buffer:
                try:
                    buffer += await self._stdout.__anext__()
                except StopAsyncIteration:
                    break
        line, newline, rest = buffer.partition(b"\n")
        if newline and line.strip(b"\r ") == NOT_FOUND_MARKER.encode():
            self.missing = True
            return
        try:
            self.pid = int(line.strip(b"\r "))
        except ValueError:  # not a POSIX shell: everything is output
            rest = buffer
            newline = b""
        self._pending = rest if newline or self.pid is None else b""

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._pending:
            yield self._pending
            self._pending = b""
        async for chunk in self._stdout:
            yield chunk

    @property
    def stdout(self) -> AsyncIterator[bytes]:
        return self._chunks()

    @property
    def stderr(self) -> AsyncIterator[bytes]:
        return self.process.stderr

    async def wait(self) -> int | None:
        return await self.process.wait()

    async def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            if self.pid is not None and self.pid > 1:
                with contextlib.suppress(OSError):
                    await self.session.run(
                        f"kill -KILL -- -{self.pid} 2>/dev/null || kill -KILL {self.pid}"
                    )
            with contextlib.suppress(Exception):
                await self.process.kill()


class _Proc:
    def __init__(self, id: int, process: TrackedProcess, pty: bool) -> None:
        self.id = id
        self.process = process
        self.pty = pty
        self.done = anyio.Event()
        self.stdin_lock = anyio.Lock()


class RemoteProcessTable:
    """The processes of one connection; closing it kills them all."""

    def __init__(self) -> None:
        self.procs: dict[int, _Proc] = {}
        self.closed = False

    def get(self, id: int) -> _Proc:
        proc = self.procs.get(id)
        if proc is None:
            raise ApiError(ErrorKind.NOT_FOUND, f"No process found with id {id}")
        return proc

    def new_id(self) -> int:
        id = secrets.randbits(32)
        while id in self.procs:
            id = secrets.randbits(32)
        return id

    async def aclose(self) -> None:
        self.closed = True
        procs = list(self.procs.values())
        self.procs.clear()
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as tg:
                for proc in procs:
                    tg.start_soon(proc.process.kill)


async def _forward(
    chunks: AsyncIterator[bytes],
    send: Send,
    make: Callable[[int, bytes], ExtendedResponse],
    id: int,
) -> None:
    async for data in chunks:
        for start in range(0, len(data), MAX_CHUNK):
            await send(make(id, data[start : start + MAX_CHUNK]))


class SshProcessOps(Api):
    """``proc_spawn``, ``proc_kill``, ``proc_stdin``, ``proc_resize_pty`` over exec channels."""

    session: SshSession

    async def proc_spawn(self, ctx: ApiContext, req: rq.ProcSpawn) -> rs.ProcSpawned:
        table = ctx.connection.resource(RemoteProcessTable)
        if table.closed:
            raise ApiError(ErrorKind.NOT_CONNECTED, "the connection is closing")
        command = spawn_command(req.cmd, dict(req.environment), req.current_dir)
        if req.current_dir is not None:
            attrs = await self.session.stat(req.current_dir)
            if attrs.kind != "dir":
                raise OSError(errno.ENOTDIR, "Not a directory", req.current_dir)
        pty = (req.pty.rows, req.pty.cols) if req.pty is not None else None
        term = req.environment.get("TERM", DEFAULT_TERM)
        process = TrackedProcess(self.session, await self.session.exec(command, pty=pty, term=term))
        try:
            await process.start()
        except BaseException:  # cancelled or failed before it is tracked: end it here
            await process.kill()  # (shielded)
            raise
        if process.missing:
            await process.kill()
            program = leading_program(req.cmd) or req.cmd
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        proc = _Proc(table.new_id(), process, pty is not None)
        table.procs[proc.id] = proc

        async def follow_up() -> None:
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_forward, process.stdout, ctx.send, rs.ProcStdout, proc.id)
                    tg.start_soon(_forward, process.stderr, ctx.send, rs.ProcStderr, proc.id)
                code = await process.wait()
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await process.kill()
                raise
            finally:
                table.procs.pop(proc.id, None)
                proc.done.set()
            await ctx.send(rs.ProcDone(proc.id, code == 0, code))

        ctx.after_reply(follow_up)
        return rs.ProcSpawned(proc.id)

    async def proc_kill(self, ctx: ApiContext, req: rq.ProcKill) -> rs.Ok:
        proc = ctx.connection.resource(RemoteProcessTable).get(req.id)
        await proc.process.kill()
        return rs.Ok()

    async def proc_stdin(self, ctx: ApiContext, req: rq.ProcStdin) -> rs.Ok:
        """Empty data closes a non-PTY process's stdin (end of input), as the host."""
        proc = ctx.connection.resource(RemoteProcessTable).get(req.id)
        async with proc.stdin_lock:
            if not req.data and not proc.pty:
                await proc.process.process.close_stdin()
            elif req.data:
                await proc.process.process.write(bytes(req.data))
        return rs.Ok()

    async def proc_resize_pty(self, ctx: ApiContext, req: rq.ProcResizePty) -> rs.Ok:
        proc = ctx.connection.resource(RemoteProcessTable).get(req.id)
        if not proc.pty:
            raise ApiError(ErrorKind.UNSUPPORTED, f"process {req.id} was not spawned with a pty")
        await proc.process.process.resize(req.size.rows, req.size.cols)
        return rs.Ok()
