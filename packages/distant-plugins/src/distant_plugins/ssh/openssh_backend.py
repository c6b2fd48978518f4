"""The ``openssh`` backend of the ssh plugin: the system ``ssh`` binary through a
ControlMaster, in the manner of the Rust ``openssh`` crate.

:func:`open_openssh_session` starts the master (:mod:`.openssh_master`; prompts are relayed
through the auth handler) and then an SFTP channel (``ssh -s host sftp``) driven by our own
SFTP v3 client (:mod:`.sftp_client`). Everything else is a mux client of the master:

* **processes**: ``ssh -T host -- <command>`` (``-tt`` on the local side of a pty pair we
  own, for a PTY). The exit code is ssh's, and ssh exits 255 for three different things: a
  remote ``exit 255``, a remote death by signal (the master does not pass ``exit-signal`` on
  to its mux clients) and a lost connection. To tell them apart, each mux client logs at
  ``-vv`` to a file of its own (``-E``, in the master's private directory; the remote
  stdout/stderr are untouched): the client logs "Received exit status from master N" only
  when the remote reported an exit status, so a 255 without that line is a death by signal
  (or a lost connection) and :meth:`OpensshProcess.wait` returns ``None``, like the
  asyncssh backend. Limits: this reads ssh's debug text (stable since OpenSSH 5, checked
  with 9.2; if it ever changes, a 255 becomes ``None``, never a wrong code), and which
  signal it was is not known (the protocol's ``proc_done`` has no field for it). Environment
  variables are ``export``-ed by a prefix to the command (sshd would drop ``SetEnv``
  variables its ``AcceptEnv`` does not list). :meth:`OpensshProcess.kill` terminates the
  local ssh client: the master closes the channel, so a PTY command gets ``SIGHUP`` and
  others see their stdio closed; the remote process is not signalled directly.
* **open_tcp**: ``ssh -W host:port`` as a byte stream over the client's pipes, returned
  once the channel is open: the mux client (at ``-v``, logging to a file of its own) logs
  the master's session id only after the remote side accepted the channel, and exits when
  it was refused; the reason ("Connection refused"...) is then read from the master's log.
* **listen_tcp**: ``ssh -O forward -R [host:]port:127.0.0.1:<local port>`` to a local
  listener; the peer of a forwarded connection is not known through ``-R``, so
  ``on_connection`` gets ``127.0.0.1`` and the port of the local leg.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import re
import signal
import struct
import subprocess
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import anyio.abc

from distant_codec import BinParts
from distant_manager import PluginError
from distant_net import AsyncAuthHandler
from distant_plugins.ssh.detached import Detached, spawn_detached
from distant_plugins.ssh.openssh_master import OpensshMaster
from distant_plugins.ssh.session import FileAttrs, RemoteProcess, ReverseForward, SshTarget
from distant_plugins.ssh.sftp_client import SftpClient, SftpClosed
from distant_plugins.ssh.sftp_wire import SftpProtocolError

__all__ = [
    "OpensshSession",
    "OpensshProcess",
    "ProcessByteStream",
    "open_openssh_session",
]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHUNK = 65536
HANDLE_IDLE = 5.0
"""Seconds an unused cached read handle stays open."""


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def remote_command(command: str, env: dict[str, str] | None) -> str:
    """``command`` preceded by ``export K='V';`` for each variable (POSIX shells)."""
    if not env:
        return command
    parts = []
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise ValueError(f"invalid environment variable name: {key!r}")
        parts.append(f"export {key}={_quote(value)};")
    return " ".join(parts) + " " + command


_EXIT_STATUS = re.compile(r"(?:Received exit status from master|Exit status) (-?\d+)")


def remote_exit_status(log: str) -> int | None:
    """The exit status a ``-vv`` ssh client logged receiving (``None`` when it logged none:
    a death by signal, or a lost connection; ``-1``, what a direct client logs after
    ``exit-signal``, is ``None`` too)."""
    found = _EXIT_STATUS.findall(log)
    if not found:
        return None
    code = int(found[-1])
    return code if code >= 0 else None


def _read_text(path: Path, tail: int | None = None) -> str:
    """The text of ``path`` (its last ``tail`` bytes), ``""`` if it cannot be read."""
    try:
        with path.open("rb") as file:
            if tail is not None:
                size = file.seek(0, os.SEEK_END)
                file.seek(max(0, size - tail))
            return file.read().decode(errors="replace")
    except OSError:
        return ""


_OPEN_FAILED = re.compile(r"open failed: (?:connect failed: )?(.+)")
_CONNECT_ERRNOS = (
    errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT,
    errno.ECONNRESET, errno.EADDRNOTAVAIL,
)  # fmt: skip


def forward_error(master_log: str, target: str) -> OSError:
    """The error of a refused ``-W`` channel, from the master's last "open failed" line
    (e.g. "connect failed: Connection refused"); ``ECONNREFUSED`` when it names no known
    reason (the channel was refused all the same)."""
    found = _OPEN_FAILED.findall(master_log)
    reason = found[-1].strip() if found else ""
    for number in _CONNECT_ERRNOS:
        if os.strerror(number).lower() in reason.lower():
            return OSError(number, os.strerror(number), target)
    return OSError(errno.ECONNREFUSED, reason or os.strerror(errno.ECONNREFUSED), target)


async def _chunks(stream: anyio.abc.ByteReceiveStream | None) -> AsyncIterator[bytes]:
    if stream is None:
        return
    while True:
        try:
            data = await stream.receive(_CHUNK)
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            return
        yield data


async def _nothing() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()
    for item in empty:
        yield item


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class _PtyMaster:
    """Our side of the pty pair whose other side is the ssh client's terminal."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False
        os.set_blocking(fd, False)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The terminal's output until every slave descriptor is closed (``EIO``); then our
        side is closed too, so a caller that only reads and waits leaks no descriptor."""
        try:
            while not self.closed:
                try:
                    data = os.read(self.fd, _CHUNK)
                except BlockingIOError:
                    try:
                        await anyio.wait_readable(self.fd)
                    except (anyio.ClosedResourceError, OSError):
                        return
                    continue
                except OSError as exc:
                    if exc.errno in (errno.EIO, errno.EBADF):
                        return
                    raise
                if not data:
                    return
                yield data
        finally:
            self.close()

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.closed:
                raise anyio.ClosedResourceError
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                await anyio.wait_writable(self.fd)
                continue
            view = view[written:]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            anyio.notify_closing(self.fd)
            os.close(self.fd)


class OpensshProcess:
    """A remote command run by a local ``ssh`` mux client (see the module docstring)."""

    def __init__(
        self,
        process: anyio.abc.Process,
        pty: _PtyMaster | None,
        log_path: Path | None = None,
        master: anyio.abc.Process | None = None,
    ) -> None:
        self._process = process
        self._pty = pty
        self._master = master
        self._log_path = log_path
        self._log: str | None = None
        self._killed = False
        self._stdout: AsyncIterator[bytes] = pty.chunks() if pty else _chunks(process.stdout)
        self._stderr: AsyncIterator[bytes] = _nothing() if pty else _chunks(process.stderr)

    @property
    def pid(self) -> int:
        """The local ssh client's PID."""
        return self._process.pid

    @property
    def stdout(self) -> AsyncIterator[bytes]:
        return self._stdout

    @property
    def stderr(self) -> AsyncIterator[bytes]:
        return self._stderr

    async def write(self, data: bytes) -> None:
        if self._pty is not None:
            await self._pty.write(data)
            return
        if self._process.stdin is None:
            raise anyio.ClosedResourceError
        await self._process.stdin.send(data)

    async def close_stdin(self) -> None:
        if self._pty is not None:
            with contextlib.suppress(anyio.ClosedResourceError, OSError):
                await self._pty.write(b"\x04")  # the terminal's end-of-file character
            return
        if self._process.stdin is not None:
            await self._process.stdin.aclose()

    async def resize(self, rows: int, cols: int) -> None:
        """Set the pty size, then SIGWINCH the master (it holds the session's terminal,
        passed by the mux client, and sends ``window-change`` for every terminal whose size
        changed) and the client (which relays it to the master too). Signalling only the
        client loses a resize made right after the start: the client installs its relay only
        once it has read the master's "session opened", which can come after the first
        output."""
        if self._pty is None or self._pty.closed:
            return
        _set_winsize(self._pty.fd, rows, cols)
        for process in (self._master, self._process):
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGWINCH)

    async def kill(self) -> None:
        if self._process.returncode is None:
            self._killed = True
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
            with anyio.move_on_after(5, shield=True):
                await self._process.wait()
            if self._process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()

    async def wait(self) -> int | None:
        code = await self._process.wait()
        log = self._take_log()
        if self._killed or code < 0:
            return None
        if code == 255 and log is not None:
            return remote_exit_status(log)
        return code

    def _take_log(self) -> str | None:
        """The client's log (read once, then removed); None without one."""
        if self._log_path is None:
            return self._log
        try:
            self._log = self._log_path.read_text(errors="replace")
        except OSError:
            self._log = ""
        with contextlib.suppress(OSError):
            self._log_path.unlink()
        self._log_path = None
        return self._log

    async def aclose(self) -> None:
        """Kill if still running and release the pipes / the pty (and the client's log)."""
        await self.kill()
        await self._process.aclose()
        if self._pty is not None:
            self._pty.close()
        self._take_log()


class ProcessByteStream(anyio.abc.ByteStream):
    """A byte stream over a local process's stdin (send) and stdout (receive)."""

    def __init__(self, process: anyio.abc.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self._process = process
        self._stdin = process.stdin
        self._stdout = process.stdout

    async def receive(self, max_bytes: int = _CHUNK) -> bytes:
        return await self._stdout.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        await self._stdin.send(item)

    async def send_eof(self) -> None:
        await self._stdin.aclose()

    async def aclose(self) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._stdin.aclose()
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
        with anyio.CancelScope(shield=True):
            await self._process.aclose()


class _RemoteListener:
    """A ``-R`` forward of the master to a local listener; see :meth:`OpensshSession.listen_tcp`."""

    def __init__(
        self, session: OpensshSession, spec: str, port: int, listener: anyio.abc.Listener[
            anyio.abc.SocketStream], task: Detached
    ) -> None:  # fmt: skip
        self._session = session
        self._spec = spec
        self.port = port
        self._listener = listener
        self._task = task
        self._closed = False

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            if not self._session.closed:
                await self._session.master.control("cancel", "-R", self._spec)
            self._session.forget(self._task, self)
            await self._task.cancel_and_wait()
            await self._listener.aclose()


class _CachedHandle:
    __slots__ = ("handle", "last_used", "size", "users")

    def __init__(self, handle: bytes, size: int) -> None:
        self.handle = handle
        self.size = size
        self.last_used = anyio.current_time()
        self.users = 0


class OpensshSession:
    """An :class:`~distant_plugins.ssh.session.SshSession` over a ControlMaster.

    Range reads keep their SFTP read handle open for the next range of the same path (a
    chunked transfer then costs only its READs, not an OPEN, FSTAT and CLOSE per chunk). A
    read at offset 0 (the start of a transfer) always opens the file afresh, so a file
    replaced in between (e.g. by a rename over it) is seen; the handle of a path is dropped
    whenever we write, rename or remove that path, after :data:`HANDLE_IDLE` idle seconds
    (a background reaper) and on close.
    """

    backend = "openssh"

    def __init__(self, master: OpensshMaster) -> None:
        self.master = master
        self._sftp: SftpClient | None = None
        self._sftp_process: anyio.abc.Process | None = None
        self._tasks: set[Detached] = set()
        self._forwards: set[_RemoteListener] = set()
        self._closed = False
        self._exec_ids = itertools.count(1)
        self._handles: dict[str, _CachedHandle] = {}
        self._reaper: Detached | None = None

    def __repr__(self) -> str:
        return f"<OpensshSession {self.master.target.host} {'closed' if self.closed else 'open'}>"

    @property
    def closed(self) -> bool:
        return self._closed or self.master.closed

    async def wait_closed(self) -> None:
        await self.master.wait()

    def forget(self, task: Detached, forward: _RemoteListener) -> None:
        self._tasks.discard(task)
        self._forwards.discard(forward)

    # -- lifecycle -------------------------------------------------------------------------

    async def _start_sftp(self) -> None:
        process = await anyio.open_process(
            self.master.client_args("-T", "-s", *self.master.host_args("sftp")),
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._sftp_process = process
        assert process.stdin is not None and process.stdout is not None
        client = SftpClient(process.stdin, process.stdout)
        try:
            with anyio.fail_after(30):
                await client.handshake()
                self._sftp = client
                self._tasks.add(spawn_detached(client.run_reader, name="sftp reader"))
                await client.negotiate_limits()
        except (SftpClosed, SftpProtocolError, TimeoutError, OSError) as exc:
            # e.g. a login shell that prints text on the subsystem channel
            raise PluginError(
                f"the SFTP subsystem of {self.master.target.host} is unavailable: {exc}"
            ) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            for forward in list(self._forwards):
                await forward.aclose()
            with anyio.move_on_after(2):
                for path in list(self._handles):
                    await self._drop_handle(path)
            if self._sftp is not None:
                with contextlib.suppress(Exception):
                    await self._sftp.aclose()
            if self._sftp_process is not None:
                with anyio.move_on_after(2):
                    await self._sftp_process.wait()
                if self._sftp_process.returncode is None:
                    self._sftp_process.terminate()
                await self._sftp_process.aclose()
            for task in list(self._tasks):
                await task.cancel_and_wait()
            self._tasks.clear()
            await self.master.aclose()

    # -- SFTP ------------------------------------------------------------------------------

    @property
    def sftp(self) -> SftpClient:
        if self._sftp is None or self._sftp.closed:
            raise SftpClosed(f"the SFTP channel to {self.master.target.host} is closed")
        return self._sftp

    async def stat(self, path: str) -> FileAttrs:
        return await self.sftp.stat(path)

    async def lstat(self, path: str) -> FileAttrs:
        return await self.sftp.lstat(path)

    async def realpath(self, path: str) -> str:
        return await self.sftp.realpath(path)

    async def readlink(self, path: str) -> str:
        return await self.sftp.readlink(path)

    async def _drop_handle(self, path: str) -> None:
        """Forget the cached handle of ``path``; close it unless a read still uses it (the
        last such read then closes it)."""
        cached = self._handles.pop(path, None)
        if cached is not None and cached.users == 0:
            await self._close_quietly(cached.handle)

    async def _close_quietly(self, handle: bytes) -> None:
        if self._sftp is not None:
            with contextlib.suppress(OSError):
                await self._sftp.close_handle(handle)

    async def _reap_handles(self) -> None:
        """Close cached handles idle for :data:`HANDLE_IDLE` seconds; ends when none is
        left (the next cached handle starts another reaper)."""
        try:
            while self._handles:
                await anyio.sleep(HANDLE_IDLE / 2)
                now = anyio.current_time()
                for path, cached in list(self._handles.items()):
                    if cached.users == 0 and now - cached.last_used >= HANDLE_IDLE:
                        await self._drop_handle(path)
        finally:
            if self._reaper is not None:
                self._tasks.discard(self._reaper)
            self._reaper = None

    def _keep(self, path: str, cached: _CachedHandle) -> None:
        self._handles[path] = cached
        if self._reaper is None and not self._closed:
            self._reaper = spawn_detached(self._reap_handles, name="sftp handle reaper")
            self._tasks.add(self._reaper)

    async def read(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        if length is None or length <= 0:
            return await self.sftp.read(path, offset, length)
        return b"".join(await self._read_range(path, offset, length))

    async def read_parts(self, path: str, offset: int, length: int) -> BinParts:
        """:meth:`read` of a range, as the SFTP replies' data (joined only when the reply
        is packed)."""
        if length <= 0:
            return BinParts([await self.sftp.read(path, offset, length)])
        return BinParts(await self._read_range(path, offset, length))

    async def _read_range(self, path: str, offset: int, length: int) -> list[bytes | memoryview]:
        sftp = self.sftp
        cached = self._handles.get(path) if offset > 0 else None
        if cached is None:
            handle, attrs = await sftp.open_read(path)
            cached = _CachedHandle(handle, attrs.size)
            if offset == 0 or path not in self._handles:
                # The start of a (likely chunked) transfer: the next ranges reuse this one.
                replaced = self._handles.get(path)
                self._keep(path, cached)
                if replaced is not None and replaced.users == 0:
                    await self._close_quietly(replaced.handle)
        cached.users += 1
        try:
            return await sftp.read_handle(cached.handle, path, offset, length, cached.size)
        finally:
            cached.users -= 1
            cached.last_used = anyio.current_time()
            if cached.users == 0 and self._handles.get(path) is not cached:
                await self._close_quietly(cached.handle)

    async def write(self, path: str, data: bytes, *, append: bool = False) -> None:
        await self._drop_handle(path)
        await self.sftp.write(path, data, append=append)

    async def write_at(self, path: str, offset: int, data: bytes, *, truncate: bool) -> None:
        await self._drop_handle(path)
        await self.sftp.write_at(path, offset, data, truncate=truncate)

    async def listdir(self, path: str) -> list[tuple[str, FileAttrs]]:
        return await self.sftp.listdir(path)

    async def mkdir(self, path: str, mode: int = 0o777) -> None:
        await self.sftp.mkdir(path, mode)

    async def rmdir(self, path: str) -> None:
        await self.sftp.rmdir(path)

    async def remove(self, path: str) -> None:
        await self._drop_handle(path)
        await self.sftp.remove(path)

    async def rename(self, src: str, dst: str) -> None:
        await self._drop_handle(src)
        await self._drop_handle(dst)
        await self.sftp.rename(src, dst)

    async def chmod(self, path: str, mode: int) -> None:
        await self.sftp.chmod(path, mode)

    # -- processes -------------------------------------------------------------------------

    async def exec(
        self,
        command: str,
        *,
        env: dict[str, str] | None = None,
        pty: tuple[int, int] | None = None,
        term: str = "xterm-256color",
    ) -> RemoteProcess:
        line = remote_command(command, env)
        log = self.master.directory / f"exec-{next(self._exec_ids)}.log"
        log_args = ("-vv", "-E", str(log))  # how it ended (see the module docstring)
        if pty is None:
            process = await anyio.open_process(
                self.master.client_args(*log_args, "-T", *self.master.host_args(line)),
                start_new_session=True,
            )
            return OpensshProcess(process, None, log)
        master_fd, slave_fd = os.openpty()
        try:
            _set_winsize(slave_fd, *pty)
            process = await anyio.open_process(
                self.master.client_args(
                    *log_args, "-tt", "-e", "none", *self.master.host_args(line)
                ),
                stdin=slave_fd,
                stdout=slave_fd,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "TERM": term},
                start_new_session=True,
            )
        except BaseException:
            os.close(master_fd)
            raise
        finally:
            os.close(slave_fd)
        return OpensshProcess(process, _PtyMaster(master_fd), log, self.master.process)

    async def run(
        self, command: str, *, input: bytes | None = None
    ) -> tuple[int | None, bytes, bytes]:
        process = await self.exec(command)
        assert isinstance(process, OpensshProcess)
        out: list[bytes] = []
        err: list[bytes] = []

        async def collect(chunks: AsyncIterator[bytes], into: list[bytes]) -> None:
            async for chunk in chunks:
                into.append(chunk)

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(collect, process.stdout, out)
                tg.start_soon(collect, process.stderr, err)
                if input:
                    with contextlib.suppress(anyio.BrokenResourceError):
                        await process.write(input)
                await process.close_stdin()
            code = await process.wait()
        finally:  # also when cancelled (cancel_search): the local ssh is ended and reaped
            with anyio.CancelScope(shield=True):
                await process.aclose()
        return code, b"".join(out), b"".join(err)

    # -- TCP -------------------------------------------------------------------------------

    async def open_tcp(self, host: str, port: int) -> anyio.abc.ByteStream:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        log = self.master.directory / f"tcp-{next(self._exec_ids)}.log"
        process = await anyio.open_process(
            self.master.client_args("-v", "-E", str(log), "-W", target, *self.master.host_args()),
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            await self._forwarding_opened(process, log, target)
        except BaseException:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.aclose()
            raise
        finally:
            with contextlib.suppress(OSError):
                log.unlink()  # ssh keeps its open file; nothing is read from it any more
        return ProcessByteStream(process)

    async def _forwarding_opened(self, process: anyio.abc.Process, log: Path, target: str) -> None:
        """Return once the master has opened the ``-W`` channel (the mux client logs
        "master session id" only after the remote side accepted it); raise ``OSError``
        when it was refused (the client then exits)."""
        delay = 0.002
        with anyio.move_on_after(self.master.target.connect_timeout):
            while True:
                text = _read_text(log)
                if "master session id" in text:
                    return
                if process.returncode is not None:
                    raise forward_error(_read_text(self.master.log_path, 8192), target)
                await anyio.sleep(delay)
                delay = min(delay * 1.5, 0.05)
        raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT), target)

    async def listen_tcp(
        self,
        host: str,
        port: int,
        on_connection: Callable[[anyio.abc.ByteStream, str, int], Awaitable[None]],
    ) -> ReverseForward:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        local_port = listener.extra(anyio.abc.SocketAttribute.local_port)
        bind = f"[{host}]" if ":" in host else host

        def spec(remote_port: int) -> str:
            prefix = f"{bind}:" if host else ""
            return f"{prefix}{remote_port}:127.0.0.1:{local_port}"

        result = await self.master.run_control("forward", "-R", spec(port))
        if result.returncode != 0 or b"failed" in result.stderr:
            await listener.aclose()
            message = result.stderr.decode(errors="replace").strip()
            number = errno.EADDRINUSE if "fail" in message.lower() else errno.EIO
            raise OSError(number, message or "remote port forwarding failed", f"{host}:{port}")
        bound = port
        if port == 0:
            try:
                bound = int(result.stdout.split()[0])
            except (IndexError, ValueError):
                await self.master.control("cancel", "-R", spec(0))
                await listener.aclose()
                raise OSError(errno.EIO, "ssh did not report the allocated port") from None

        async def handle(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                peer = stream.extra(anyio.abc.SocketAttribute.remote_address)
                peer_port = peer[1] if isinstance(peer, tuple) else 0
                await on_connection(stream, "127.0.0.1", int(peer_port))

        task = spawn_detached(listener.serve, handle, name=f"reverse forward {bound}")
        self._tasks.add(task)
        # The master knows the forward by its request: cancelling names port 0 again.
        forward = _RemoteListener(self, spec(port), bound, listener, task)
        self._forwards.add(forward)
        return forward


async def open_openssh_session(target: SshTarget, auth: AsyncAuthHandler) -> OpensshSession:
    """Connect (see :class:`~distant_plugins.ssh.session.SessionOpener`)."""
    master = OpensshMaster(target)
    try:
        await master.start(auth)
    except BaseException:  # its private directory (and whatever started) goes too
        with anyio.CancelScope(shield=True):
            await master.aclose()
        raise
    session = OpensshSession(master)
    try:
        await session._start_sftp()
    except BaseException:
        with anyio.CancelScope(shield=True):
            await session.aclose()
        raise
    return session
