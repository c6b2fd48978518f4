"""Processes on the host (§7.3 ``proc_spawn``, ``proc_kill``, ``proc_stdin``, ``proc_resize_pty``).

``proc_spawn`` splits ``cmd`` like a POSIX shell would split words (``shlex.split``, as
upstream uses ``shell_words``; no shell runs unless the command names one), adds
``environment`` to the server's own, starts the program in ``current_dir`` and answers
``proc_spawned`` with a random u32 id. Then, as follow-up work (so ``proc_spawned`` always
comes first, §5.2), it streams ``proc_stdout`` / ``proc_stderr`` (bytes as read, at most
64 KiB each) and finally ``proc_done`` with the exit code, absent when a signal ended the
process. With a ``pty``, the program runs on a new pseudo-terminal of that size, as the
session leader with the terminal as its controlling terminal; ``proc_stdout`` carries the
terminal's output (stderr included), ``proc_stdin`` types into it and ``proc_resize_pty``
resizes it (the program gets ``SIGWINCH``). Without a pty, ``proc_resize_pty`` is
``unsupported``; an unknown id is ``not_found``.

Every process is the leader of its own session. Guarantees:

* **Nothing is lost, nothing comes after ``proc_done``.** Output is forwarded until both
  pipes (or the terminal) reach end of file, and only then is ``proc_done`` sent. If the
  link to the client is down, sending waits (distant-net replays it later) and reading
  waits with it: the process blocks on a full pipe rather than losing output.
* **Descendants holding the output open** (``sh -c "sleep 100 &"``) do not keep
  ``proc_done`` back forever: once the process itself has exited, its output is drained
  until EOF, or until the pipes have been silent for :data:`DRAIN_IDLE` seconds (time
  spent waiting for the client does not count), or at most :data:`DRAIN_LIMIT` seconds
  after the exit. Whatever is buffered at that point is still forwarded; then whatever is
  left of the process's session (the descendants still holding its output, as well as any
  other member) is killed, and ``proc_done`` reports the process's own exit status.
  Descendants that detached from the output (redirected it, or started their own session)
  are left running, as they would be under ssh.
* **Killing** (``proc_kill``, or the connection closing) sends ``SIGKILL`` to the whole
  session: the process group, then every other member of the session found in ``/proc``
  (an interactive shell puts its jobs in groups of their own). The process is then reaped,
  so no zombie is left behind. The leader is only ever reaped after its session has been
  signalled, so the session id cannot have been recycled by then.
* Closing the connection (:meth:`ProcessTable.aclose`) kills and reaps every process it
  started that has not sent its ``proc_done`` yet.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import math
import os
import secrets
import shlex
import signal
import subprocess
import termios
from collections.abc import Awaitable, Callable, Iterator
from typing import NamedTuple

import anyio

from distant_codec import ErrorKind, PtySize
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import ExtendedResponse
from distant_server.api import Api
from distant_server.context import ApiContext
from distant_server.errors import ApiError

from . import pty as ptys

__all__ = ["ProcessOps", "ProcessTable", "DRAIN_IDLE", "DRAIN_LIMIT", "READ_SIZE"]

log = logging.getLogger("distant_server.process")

Send = Callable[[ExtendedResponse], Awaitable[None]]
MakeOutput = Callable[[int, bytes], ExtendedResponse]

READ_SIZE = 64 * 1024
"""The most bytes one ``proc_stdout`` / ``proc_stderr`` carries."""

DRAIN_IDLE = 0.5
"""After the process has exited: stop reading a pipe that stays silent this long (s)."""

DRAIN_LIMIT = 5.0
"""After the process has exited: stop reading its pipes this long after the exit (s)."""

REAP_TIMEOUT = 5.0
"""How long closing waits for a killed process to die before giving up on reaping it."""

DEFAULT_TERM = "xterm-256color"
"""``TERM`` for a program on a pty, unless the server's environment or the request sets it."""


class Outcome(NamedTuple):
    success: bool
    code: int | None


def _split(cmd: str) -> list[str]:
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise ApiError(ErrorKind.INVALID_INPUT, f"invalid command {cmd!r}: {exc}") from None
    if not argv:
        raise ApiError(ErrorKind.INVALID_INPUT, "the command is empty")
    return argv


def _read(fd: int, size: int = READ_SIZE) -> bytes | None:
    """What is there to read: ``None`` when nothing yet, ``b""`` at end of file."""
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno == errno.EIO:  # a pty master once every slave fd is closed
            return b""
        raise


def _available(fd: int) -> int:
    """How many bytes a pipe or pty holds right now (``FIONREAD``)."""
    try:
        packed = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(packed, "little", signed=True)


def _close(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


# -- sessions --------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[bytes, int] | None:
    """The state letter and session id of ``pid``, from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return fields[0], int(fields[3])
    except (IndexError, ValueError):
        return None


def _session_members(sid: int) -> Iterator[int]:
    """The live processes of session ``sid`` (zombies excluded)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if not name.isdigit():
            continue
        found = _stat(int(name))
        if found is not None and found[1] == sid and found[0] not in (b"Z", b"X"):
            yield int(name)


def _kill_member(pid: int, sid: int) -> None:
    """``SIGKILL`` ``pid`` if it is still in session ``sid``; through a pidfd where the
    kernel has them, so a pid recycled since the scan is never hit."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfds here: fall back to kill(2)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        return
    try:
        found = _stat(pid)  # the pidfd pins the process: this is still the one we scanned
        if found is not None and found[1] == sid:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(pidfd)


def _kill_session(sid: int) -> None:
    """``SIGKILL`` every process of session ``sid``, whose leader must not have been reaped
    yet (that is what keeps ``sid`` from naming some other session)."""
    with contextlib.suppress(OSError):
        os.killpg(sid, signal.SIGKILL)
    for _ in range(5):  # members forked while we scanned get another round
        members = list(_session_members(sid))
        if not members:
            return
        for pid in members:
            _kill_member(pid, sid)


# -- one process -----------------------------------------------------------------------------


class _Child:
    """A spawned process: its ``Popen``, our ends of its pipes (or its pty), its status.

    We reap it ourselves, through ``waitid``/``waitpid`` on its pid, so that the exit
    status can be read (``WNOWAIT``) while the process is kept unreaped: until it is
    reaped its pid, which is also its session and group id, cannot be reused.
    """

    def __init__(
        self,
        id: int,
        popen: subprocess.Popen[bytes],
        *,
        stdin: int,
        outputs: list[tuple[int, MakeOutput]],
        pty: int | None,
    ) -> None:
        self.id = id
        self.pid = popen.pid
        self._popen = popen
        self._stdin: int | None = stdin
        self._stdin_waiter: anyio.CancelScope | None = None
        self._stdin_handover: int | None = None
        self._stdin_lock = anyio.Lock()
        self._outputs = outputs
        self._pty = pty  # the pty master (also the stdout reader), None once closed
        self._has_pty = pty is not None
        try:
            self._pidfd: int | None = os.pidfd_open(self.pid)
        except OSError:
            self._pidfd = None
        self.outcome: Outcome | None = None
        self.reaped = False
        self.runner: anyio.Event | None = None  # set once the follow-up work has finished
        self._exited_at: float | None = None
        self._waiting: set[anyio.CancelScope] = set()
        self._held_open = False

    # -- status ----------------------------------------------------------------------------

    def poll(self) -> Outcome | None:
        """The exit status once the process has exited, without reaping it."""
        if self.outcome is not None or self.reaped:
            return self.outcome
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped behind our back: nothing more to learn
            self._reaped(None)
            return self.outcome
        if info is None or info.si_pid == 0:
            return None
        if info.si_code == os.CLD_EXITED:
            self.outcome = Outcome(info.si_status == 0, info.si_status)
        else:  # CLD_KILLED, CLD_DUMPED
            self.outcome = Outcome(False, None)
        return self.outcome

    def try_reap(self) -> bool:
        """Reap the process if it has exited; True once it is reaped."""
        if self.reaped:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self._reaped(None)
            return True
        if pid == 0:
            return False
        self._reaped(status)
        return True

    def _reaped(self, status: int | None) -> None:
        self.reaped = True
        returncode = -signal.SIGKILL if status is None else os.waitstatus_to_exitcode(status)
        if self.outcome is None:
            if returncode >= 0 and status is not None:
                self.outcome = Outcome(returncode == 0, returncode)
            else:
                self.outcome = Outcome(False, None)
        self._popen.returncode = returncode  # Popen must not try to reap it again

    async def wait_exit(self) -> Outcome:
        while (outcome := self.poll()) is None:
            if self._pidfd is not None:
                await anyio.wait_readable(self._pidfd)
            else:  # pragma: no cover - kernels without pidfd_open (< 5.3)
                await anyio.sleep(0.05)
        return outcome

    async def reap(self) -> None:
        """Wait (at most :data:`REAP_TIMEOUT`) for the process to exit, and reap it."""
        delay = 0.001
        with anyio.move_on_after(REAP_TIMEOUT):
            while not self.try_reap():
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.05)
        if not self.reaped:
            log.warning("process %d (pid %d) did not die; not reaped", self.id, self.pid)

    def kill(self) -> None:
        """``SIGKILL`` the process and every other member of its session."""
        if not self.reaped:
            _kill_session(self.pid)

    # -- input -----------------------------------------------------------------------------

    async def write_stdin(self, data: bytes) -> None:
        """Write all of ``data`` to the process's stdin (its terminal with a pty)."""
        async with self._stdin_lock:
            view = memoryview(data)
            while view:
                fd = self._stdin
                if fd is None:
                    raise BrokenPipeError(errno.EPIPE, f"stdin of process {self.id} is closed")
                try:
                    view = view[os.write(fd, view) :]
                    continue
                except BlockingIOError:
                    pass
                except OSError as exc:
                    if exc.errno == errno.EIO:  # a pty nobody holds any more
                        raise BrokenPipeError(
                            errno.EPIPE, f"the terminal of process {self.id} is closed"
                        ) from None
                    raise
                with anyio.CancelScope() as scope:
                    self._stdin_waiter = scope
                    try:
                        await anyio.wait_writable(fd)
                    finally:
                        self._stdin_waiter = None
                        if self._stdin_handover == fd:  # closed while we waited on it
                            self._stdin_handover = None
                            os.close(fd)

    @property
    def has_pty(self) -> bool:
        return self._has_pty

    def close_stdin(self) -> None:
        fd, self._stdin = self._stdin, None
        if fd is None:
            return
        if self._stdin_waiter is not None:  # a writer waits on fd: it closes it on waking
            self._stdin_handover = fd
            self._stdin_waiter.cancel()
        else:
            os.close(fd)

    def resize(self, size: PtySize) -> None:
        if not self._has_pty:
            raise ApiError(ErrorKind.UNSUPPORTED, f"process {self.id} was not spawned with a pty")
        if self._pty is None:
            raise BrokenPipeError(errno.EPIPE, f"the terminal of process {self.id} is closed")
        ptys.set_size(self._pty, size)

    # -- output ----------------------------------------------------------------------------

    async def stream(self, send: Send) -> None:
        """Forward the output until the process has exited and its output is drained (see
        the module docs); kill what is left of its session if the output was held open."""
        async with anyio.create_task_group() as tg:
            for fd, make in self._outputs:
                tg.start_soon(self._pump, fd, make, send)
            await self.wait_exit()
            self._exited_at = anyio.current_time()
            for scope in list(self._waiting):  # switch the readers to draining
                scope.cancel()
        if self._held_open:
            self.kill()

    async def _pump(self, fd: int, make: MakeOutput, send: Send) -> None:
        while True:
            data = _read(fd)
            if data is None:
                if not await self._wait_readable(fd):
                    break
                continue
            if not data:
                return  # end of file
            await send(make(self.id, data))
            if self._exited_at is not None and self._past(self._exited_at + DRAIN_LIMIT):
                break
        # Past the drain bounds: forward what is buffered now (all the process left, since
        # it has exited), then stop, unless that was the end of the output anyway.
        remaining = _available(fd)
        while remaining > 0:
            data = _read(fd, min(remaining, READ_SIZE))
            if not data:
                return  # end of file after all
            remaining -= len(data)
            await send(make(self.id, data))
        if _available(fd) == 0:
            tail = _read(fd, 1)
            if tail == b"":
                return  # end of file: nobody holds it open
            if tail:  # written just now
                await send(make(self.id, tail))
        self._held_open = True  # somebody still holds it open

    @staticmethod
    def _past(deadline: float) -> bool:
        return anyio.current_time() >= deadline

    async def _wait_readable(self, fd: int) -> bool:
        """Wait for ``fd`` to be readable; False when draining should stop."""
        exited_at = self._exited_at
        deadline = math.inf
        if exited_at is not None:
            deadline = min(anyio.current_time() + DRAIN_IDLE, exited_at + DRAIN_LIMIT)
        with anyio.CancelScope(deadline=deadline) as scope:
            self._waiting.add(scope)
            try:
                await anyio.wait_readable(fd)
            finally:
                self._waiting.discard(scope)
        # Cancelled before the exit: the exit woke us up, go on draining.
        return not (scope.cancelled_caught and exited_at is not None)

    # -- release ---------------------------------------------------------------------------

    async def dispose(self, *, kill: bool) -> None:
        """Kill the session (if ``kill``), reap the process and close our fds. Nobody may
        be reading the output fds any more."""
        if kill:
            self.kill()
        if not self.reaped:
            await self.reap()
        self._pty = None  # it is one of the outputs
        for fd, _make in self._outputs:
            _close(fd)
        self._outputs = []
        self.close_stdin()
        _close(self._pidfd)
        self._pidfd = None


# -- the table --------------------------------------------------------------------------------


class ProcessTable:
    """The processes of one connection, by id. Closing it kills and reaps them all."""

    def __init__(self) -> None:
        self._children: dict[int, _Child] = {}
        self._closed = False

    def __len__(self) -> int:
        return len(self._children)

    def get(self, id: int) -> _Child:
        child = self._children.get(id)
        if child is None:
            raise ApiError(ErrorKind.NOT_FOUND, f"No process found with id {id}")
        return child

    def spawn(self, req: rq.ProcSpawn) -> _Child:
        """Start ``req``'s process (raises ``OSError`` as ``Popen`` does, e.g. for a missing
        program or directory)."""
        if self._closed:
            raise ApiError(ErrorKind.NOT_CONNECTED, "the connection is closing")
        argv = _split(req.cmd)
        env = dict(os.environ)
        if req.pty is not None:
            env.setdefault("TERM", DEFAULT_TERM)
        env.update(req.environment)
        id = secrets.randbits(32)
        while id in self._children:
            id = secrets.randbits(32)
        if req.pty is None:
            child = _spawn_piped(id, argv, env, req.current_dir)
        else:
            child = _spawn_pty(id, argv, env, req.current_dir, req.pty)
        self._children[id] = child
        return child

    async def run(self, child: _Child, send: Send) -> None:
        """The follow-up work of ``proc_spawn``: stream the output, then ``proc_done``."""
        child.runner = done = anyio.Event()
        completed = False
        try:
            await child.stream(send)
            completed = True
        finally:
            self._children.pop(child.id, None)
            with anyio.CancelScope(shield=True):
                try:
                    await child.dispose(kill=not completed)
                finally:
                    done.set()
        outcome = child.outcome or Outcome(False, None)
        await send(rs.ProcDone(child.id, outcome.success, outcome.code))

    async def aclose(self) -> None:
        """Kill every process still running (with its whole session), and reap it."""
        self._closed = True
        children = list(self._children.values())
        self._children.clear()
        with anyio.CancelScope(shield=True):
            for child in children:
                child.kill()
            for child in children:
                if child.runner is None:  # its follow-up never started: release it here
                    await child.dispose(kill=False)
                    continue
                await child.reap()
                with anyio.move_on_after(REAP_TIMEOUT):
                    await child.runner.wait()  # it disposes of the rest


def _spawn_piped(id: int, argv: list[str], env: dict[str, str], cwd: str | None) -> _Child:
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    try:
        popen = subprocess.Popen(
            argv,
            stdin=stdin_r,
            stdout=stdout_w,
            stderr=stderr_w,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except BaseException:
        for fd in (stdin_w, stdout_r, stderr_r):
            os.close(fd)
        raise
    finally:
        for fd in (stdin_r, stdout_w, stderr_w):
            os.close(fd)
    for fd in (stdin_w, stdout_r, stderr_r):
        os.set_blocking(fd, False)
    outputs: list[tuple[int, MakeOutput]] = [(stdout_r, rs.ProcStdout), (stderr_r, rs.ProcStderr)]
    return _Child(id, popen, stdin=stdin_w, outputs=outputs, pty=None)


def _spawn_pty(
    id: int, argv: list[str], env: dict[str, str], cwd: str | None, size: PtySize
) -> _Child:
    master, slave = ptys.open_pty(size)
    try:
        writer = os.dup(master)  # stdin's own fd, closed independently of the reader
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    try:
        popen = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=ptys.acquire_controlling_terminal,  # noqa: PLW1509 - only an ioctl
        )
    except BaseException:
        os.close(master)
        os.close(writer)
        raise
    finally:
        os.close(slave)  # else the master never sees the end of the session
    return _Child(id, popen, stdin=writer, outputs=[(master, rs.ProcStdout)], pty=master)


# -- the operations ---------------------------------------------------------------------------


class ProcessOps(Api):
    """``proc_spawn``, ``proc_kill``, ``proc_stdin`` and ``proc_resize_pty`` on this host,
    with a :class:`ProcessTable` per connection."""

    async def proc_spawn(self, ctx: ApiContext, req: rq.ProcSpawn) -> rs.ProcSpawned:
        table = ctx.connection.resource(ProcessTable)
        child = table.spawn(req)

        async def follow_up() -> None:
            await table.run(child, ctx.send)

        ctx.after_reply(follow_up)
        return rs.ProcSpawned(child.id)

    async def proc_kill(self, ctx: ApiContext, req: rq.ProcKill) -> rs.Ok:
        _table(ctx).get(req.id).kill()
        return rs.Ok()

    async def proc_stdin(self, ctx: ApiContext, req: rq.ProcStdin) -> rs.Ok:
        """An empty write to a process without a pty closes its stdin (end of input), so
        ``echo x | distant spawn -- cat`` ends; with a pty, input ends with Ctrl-D."""
        process = _table(ctx).get(req.id)
        if not req.data and not process.has_pty:
            process.close_stdin()
        else:
            await process.write_stdin(req.data)
        return rs.Ok()

    async def proc_resize_pty(self, ctx: ApiContext, req: rq.ProcResizePty) -> rs.Ok:
        _table(ctx).get(req.id).resize(req.size)
        return rs.Ok()


def _table(ctx: ApiContext) -> ProcessTable:
    return ctx.connection.resource(ProcessTable)
