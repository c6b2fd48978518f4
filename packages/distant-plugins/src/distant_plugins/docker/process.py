"""Processes in the container through ``docker exec`` (``proc_*``).

``cmd`` is split like a POSIX shell would (``shlex``) and run without a shell, in
``current_dir`` (the exec's working directory) with ``environment`` added, on a tty of the
requested size with ``pty``. ``proc_spawned`` comes first, then ``proc_stdout`` /
``proc_stderr`` as the exec's socket delivers them, and ``proc_done`` only after the last
output. ``proc_stdin`` with no data closes stdin (without a pty).

Docker has no API to signal an exec, and no way to refuse a program that does not exist
(the exec starts, then its process fails). When the container has ``sh``, the program is
started through :data:`WRAPPER` (``sh -c WRAPPER sh ROWS COLS ARGV...``), which

* with a pty, sets the terminal's size (``stty rows R cols C``) before the program starts
  (the engine's own resize only lands after the exec started, too late for a program that
  looks at its size at once; API 1.42's ``ConsoleSize`` is not available everywhere);
* looks the program up as ``exec`` would (``PATH``, or the path itself when it has a
  ``/``) and, when it is missing, prints ``-`` (``!`` when it is not an executable file)
  and exits: ``proc_spawn`` then answers ``not_found`` (``permission_denied``) like the
  host, instead of a process that prints sh's message and exits 127;
* else prints its own pid (``exec`` keeps it) and becomes the program.

``proc_spawn`` reads that first line before it answers ``proc_spawned`` (the line is never
forwarded), and ``proc_kill`` runs ``kill -9 PID`` in the container. Without a shell the
program is looked up in the container's ``PATH`` through the archive stat before the exec
(same errors), and ``proc_kill`` answers ``unsupported``.

Signals: the engine reports a process killed by signal N as exit code 128+N, exactly as it
reports ``exit 128+N`` (a shell cannot tell them apart either). An exit code in 129..192 is
therefore reported as killed by a signal (``proc_done`` with ``success: false`` and no
code, as the host does for a signalled process); the limit is that a program which itself
exits with such a code (e.g. a shell whose last command was killed) looks killed too.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import posixpath
import random
import shlex

import anyio

from distant_codec import ErrorKind
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import ExtendedResponse as Response
from distant_server import ApiContext, ApiError

from .engine import Engine
from .exec import STDERR, STDOUT, ExecStream, open_exec

__all__ = [
    "DockerProcesses",
    "ProcessTable",
    "split_command",
    "WRAPPER",
    "PID_WRAPPER",
    "exit_status",
    "SIGNAL_CODES",
]

log = logging.getLogger("distant_plugins.docker")

WRAPPER = """\
if [ "$1" != - ]; then stty rows "$1" cols "$2" 2>/dev/null; fi
shift 2
case $1 in
*/*) p=$1 ;;
*) p=; set -f; IFS=:
   for d in ${PATH:-/usr/bin:/bin}; do
     if [ -f "${d:-.}/$1" ] && [ -x "${d:-.}/$1" ]; then p=${d:-.}/$1; break; fi
   done
   unset IFS; set +f ;;
esac
if [ -z "$p" ] || [ ! -e "$p" ]; then echo -; exit 127; fi
if [ ! -f "$p" ] || [ ! -x "$p" ]; then echo !; exit 126; fi
echo "$$"
exec "$@"
"""
"""Sets a pty's size, checks the program exists, prints its pid, becomes the program."""

PID_WRAPPER = 'echo "$$"; exec "$@"'
"""Prints the pid the program will have (``exec`` keeps it), then becomes the program."""

DEFAULT_TERM = "xterm-256color"
STATUS_LINE_TIMEOUT = 30.0
"""How long ``proc_spawn`` waits for the wrapper's first line."""

SIGNAL_CODES = range(129, 129 + 64)
"""Exit codes the engine reports for a process killed by a signal (128 + N)."""


def exit_status(code: int | None) -> tuple[bool, int | None]:
    """``proc_done``'s ``(success, code)`` for the engine's exit code (see the module doc)."""
    if code is None or code in SIGNAL_CODES:
        return False, None
    return code == 0, code


def split_command(cmd: str) -> list[str]:
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise ApiError(ErrorKind.INVALID_INPUT, f"invalid command {cmd!r}: {exc}") from None
    if not argv:
        raise ApiError(ErrorKind.INVALID_INPUT, "the command is empty")
    return argv


def _missing(program: str) -> OSError:
    return FileNotFoundError(errno.ENOENT, "No such file or directory", program)


def _not_executable(program: str) -> OSError:
    return PermissionError(errno.EACCES, "Permission denied", program)


class _Proc:
    def __init__(
        self,
        id: int,
        stream: ExecStream,
        pty: bool,
        pid: int | None,
        early: list[tuple[int, bytes]],
    ) -> None:
        self.id = id
        self.stream = stream
        self.pty = pty
        self.pid = pid
        self.early = early
        """Output that came with the wrapper's line, forwarded first."""
        self.killed = False
        self.finished = anyio.Event()


class ProcessTable:
    """The processes of one connection; killed when it closes."""

    def __init__(self) -> None:
        self.procs: dict[int, _Proc] = {}
        self.killer: DockerProcesses | None = None

    def new_id(self) -> int:
        while True:
            proc_id = random.getrandbits(32)
            if proc_id not in self.procs:
                return proc_id

    async def aclose(self) -> None:
        procs = list(self.procs.values())
        self.procs.clear()
        for proc in procs:
            if self.killer is not None and proc.pid is not None:
                with contextlib.suppress(Exception), anyio.move_on_after(5):
                    await self.killer.kill_pid(proc.pid)
            proc.stream.close()


async def _status_line(stream: ExecStream) -> tuple[str | None, list[tuple[int, bytes]]]:
    """The wrapper's first stdout line (None if the output ended first), and the output
    that came after it (or, when it ended first, everything that came)."""
    prefix = b""
    early: list[tuple[int, bytes]] = []
    with anyio.move_on_after(STATUS_LINE_TIMEOUT):
        while True:
            chunk = await stream.receive()
            if chunk is None:
                break
            kind, data = chunk
            if kind == STDERR:
                early.append(chunk)
                continue
            prefix += data
            line, sep, rest = prefix.partition(b"\n")
            if sep:
                if rest:
                    early.append((STDOUT, rest))
                return line.strip().decode("ascii", "replace"), early
    if prefix:
        early.insert(0, (STDOUT, prefix))
    return None, early


class DockerProcesses:
    """``proc_spawn``, ``proc_kill``, ``proc_stdin``, ``proc_resize_pty``.

    ``shell`` is the path of the container's ``sh`` (None: it has none; a path, so that
    the wrapper starts whatever ``PATH`` the request gives); ``path`` and ``workdir`` are
    the container's ``PATH`` directories and working directory, used to look a program
    up when there is no shell."""

    def __init__(
        self, engine: Engine, shell: str | None, path: list[str] | None = None, workdir: str = "/"
    ) -> None:
        self.engine = engine
        self.shell = shell
        self.path = path or ["/usr/local/bin", "/usr/bin", "/bin"]
        self.workdir = workdir or "/"

    def _table(self, ctx: ApiContext) -> ProcessTable:
        table = ctx.connection.resource(ProcessTable)
        table.killer = self
        return table

    async def kill_pid(self, pid: int) -> None:
        code, _, err = await self.engine.run([self.shell or "sh", "-c", f"kill -9 {pid}"])
        if code not in (0, None):
            log.debug("kill -9 %d: %r", pid, err)

    async def _check_program(self, program: str, env: dict[str, str], cwd: str | None) -> None:
        """Without a shell: ``program`` must be an executable file (archive stat)."""
        if "/" in program:
            candidates = [posixpath.join(cwd or self.workdir, program)]
        else:
            dirs = env["PATH"].split(":") if "PATH" in env else self.path
            candidates = [posixpath.join(cwd or self.workdir, d or ".", program) for d in dirs]
        found_other = False
        for candidate in candidates:
            try:
                _, st = await self.engine.resolve(posixpath.normpath(candidate))
            except (OSError, ApiError):
                continue
            if st.is_file and st.mode & 0o111:
                return
            found_other = True
        if found_other and "/" in program:
            raise _not_executable(program)
        raise _missing(program)

    async def proc_spawn(self, ctx: ApiContext, req: rq.ProcSpawn) -> Response:
        argv = split_command(req.cmd)
        env = dict(req.environment)
        if req.pty is not None:
            env.setdefault("TERM", DEFAULT_TERM)
        wrapped = self.shell is not None
        if self.shell is not None:
            size = [str(req.pty.rows), str(req.pty.cols)] if req.pty is not None else ["-", "-"]
            command = [self.shell, "-c", WRAPPER, "sh", *size, *argv]
        else:
            await self._check_program(argv[0], env, req.current_dir)
            command = argv
        stream = await open_exec(
            self.engine, command, tty=req.pty is not None, environment=env, workdir=req.current_dir
        )
        pid: int | None = None
        early: list[tuple[int, bytes]] = []
        try:
            if req.pty is not None and not wrapped:
                with contextlib.suppress(Exception):
                    await stream.resize(req.pty.rows, req.pty.cols)
            if wrapped:
                line, early = await _status_line(stream)
                if line is None or not line.isdigit():
                    code = await stream.wait_exit()
                    if line == "-":
                        raise _missing(argv[0])
                    if line == "!":
                        raise _not_executable(argv[0])
                    output = b"".join(data for _, data in early)
                    raise ApiError(
                        ErrorKind.OTHER,
                        f"{argv[0]} did not start (exit code {code}): {output[:200]!r}",
                    )
                pid = int(line)
                if req.pty is not None:  # in case the container has no stty
                    with contextlib.suppress(Exception):
                        await stream.resize(req.pty.rows, req.pty.cols)
        except BaseException:
            stream.close()
            raise
        table = self._table(ctx)
        proc = _Proc(table.new_id(), stream, req.pty is not None, pid, early)
        table.procs[proc.id] = proc
        ctx.after_reply(functools.partial(self._pump, ctx, table, proc))
        return rs.ProcSpawned(proc.id)

    async def _pump(self, ctx: ApiContext, table: ProcessTable, proc: _Proc) -> None:
        stream = proc.stream
        try:
            for kind, data in proc.early:
                await self._forward(ctx, proc, kind, data)
            proc.early = []
            while True:
                chunk = await stream.receive()
                if chunk is None:
                    break
                await self._forward(ctx, proc, *chunk)
            code = await stream.wait_exit()
            success, code = (False, None) if proc.killed else exit_status(code)
            await ctx.send(rs.ProcDone(proc.id, success, code))
        finally:
            proc.finished.set()
            stream.close()
            if table.procs.get(proc.id) is proc:
                del table.procs[proc.id]

    @staticmethod
    async def _forward(ctx: ApiContext, proc: _Proc, kind: int, data: bytes) -> None:
        if kind == STDERR:
            await ctx.send(rs.ProcStderr(proc.id, data))
        else:
            await ctx.send(rs.ProcStdout(proc.id, data))

    def _find(self, ctx: ApiContext, proc_id: int) -> _Proc:
        table = ctx.connection.existing(ProcessTable)
        proc = table.procs.get(proc_id) if table is not None else None
        if proc is None:
            raise ApiError(ErrorKind.NOT_FOUND, f"no process with id {proc_id}")
        return proc

    async def proc_kill(self, ctx: ApiContext, req: rq.ProcKill) -> Response:
        proc = self._find(ctx, req.id)
        if proc.pid is None:
            raise ApiError(
                ErrorKind.UNSUPPORTED,
                "proc_kill is unsupported: docker exec cannot be signalled and this "
                "container has no shell to run kill with",
            )
        proc.killed = True
        await self.kill_pid(proc.pid)
        return rs.Ok()

    async def proc_stdin(self, ctx: ApiContext, req: rq.ProcStdin) -> Response:
        proc = self._find(ctx, req.id)
        if not req.data:
            if not proc.pty:
                proc.stream.close_stdin()
            return rs.Ok()
        await proc.stream.send(req.data)
        return rs.Ok()

    async def proc_resize_pty(self, ctx: ApiContext, req: rq.ProcResizePty) -> Response:
        proc = self._find(ctx, req.id)
        if not proc.pty:
            raise ApiError(ErrorKind.UNSUPPORTED, f"process {req.id} has no pty to resize")
        await proc.stream.resize(req.size.rows, req.size.cols)
        return rs.Ok()
