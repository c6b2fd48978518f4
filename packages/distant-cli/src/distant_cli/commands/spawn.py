"""``spawn``, ``shell`` and ``ssh`` (§12.2): a remote process wired to our stdio.

The main thread reads the channel and writes ``proc_stdout``/``proc_stderr`` to our
stdout/stderr; a daemon thread reads our stdin and sends ``proc_stdin``. The exit code is
the remote one (§12.4). With a PTY the local terminal is in raw mode for the whole session
and restored on every exit path; window-size changes are forwarded as ``proc_resize_pty``.

Signals: ``SIGINT``/``SIGTERM``/``SIGHUP`` kill the remote process (``proc_kill``) and the
command ends once the server reports it done (a second signal ends it at once). In raw mode
Ctrl-C is not a signal but a byte for the remote terminal.

End of our stdin (without a PTY) is sent as an empty ``proc_stdin``: a server that treats it
as "close the process's stdin" lets ``cat`` finish; for others it is a no-op, as upstream.
With a PTY and a stdin that is not a terminal, its end is sent as Ctrl-D.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

from distant_cli.commands.formatting import exit_code_of, parse_shell
from distant_cli.commands.remote import Remote, RemoteError, check, cli_errors
from distant_cli.commands.terminal import RawTerminal, on_window_change, terminal_size
from distant_cli.errors import CliError
from distant_cli.session import Globals
from distant_codec import (
    CodecError,
    Error,
    PtySize,
    new_id,
    parse_options,
    requests,
    responses,
)

__all__ = ["spawn", "shell", "ssh", "LspTranslator", "command_line", "parse_environment"]

READ_SIZE = 64 * 1024
INTERRUPTED = 130


def command_line(args: Sequence[str]) -> str:
    """The ``cmd`` string of ``proc_spawn`` for ``CMD...``: one argument is taken as a whole
    command line (``spawn -- "ls -la"``); several are quoted as a POSIX shell would need, so
    that ``spawn -- sh -c 'exit 3'`` reaches the server as three words (upstream joins them
    with spaces and the server re-splits, losing the quoting)."""
    if len(args) == 1:
        return args[0]
    return " ".join(shlex.quote(arg) for arg in args)


def parse_environment(
    environment: str | dict[str, str] | None, flag: str = "--environment"
) -> dict[str, str]:
    """``--environment`` (or ``flag``) as a map string (``KEY="value",K2=v2``) or a dict."""
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return dict(environment)
    try:
        return parse_options(environment)
    except CodecError as exc:
        raise CliError(f"invalid {flag}: {exc}") from None


# -- LSP scheme translation ------------------------------------------------------------------


class LspTranslator:
    """Rewrites URIs in a stream of LSP messages (``Content-Length`` framed JSON): every
    string and key starting with ``old`` (e.g. ``file:``) gets ``new`` instead, and the
    length is recomputed. Anything that is not a well-formed LSP message passes through."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new
        self._buf = bytearray()

    def _swap(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.new + value[len(self.old) :] if value.startswith(self.old) else value
        if isinstance(value, list):
            return [self._swap(v) for v in value]
        if isinstance(value, dict):
            return {self._swap(k): self._swap(v) for k, v in value.items()}
        return value

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while True:
            head_end = self._buf.find(b"\r\n\r\n")
            if head_end < 0:
                if not self._buf.startswith(b"Content-"[: len(self._buf)]) and self._buf:
                    out += self._buf  # not LSP framing: pass it through
                    self._buf.clear()
                return bytes(out)
            headers = self._parse_headers(bytes(self._buf[:head_end]))
            if headers is None:
                out += self._buf
                self._buf.clear()
                return bytes(out)
            length, content_type = headers
            start = head_end + 4
            if len(self._buf) < start + length:
                return bytes(out)
            body = bytes(self._buf[start : start + length])
            del self._buf[: start + length]
            out += self._convert(body, content_type)

    def flush(self) -> bytes:
        rest = bytes(self._buf)
        self._buf.clear()
        return rest

    @staticmethod
    def _parse_headers(raw: bytes) -> tuple[int, str | None] | None:
        length: int | None = None
        content_type: str | None = None
        for line in raw.decode("ascii", "replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if not sep:
                return None
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return None
            elif name.strip().lower() == "content-type":
                content_type = value.strip()
        if length is None or length < 0:
            return None
        return length, content_type

    def _convert(self, body: bytes, content_type: str | None) -> bytes:
        try:
            obj = json.loads(body)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            body = json.dumps(self._swap(obj), indent=2, ensure_ascii=False).encode("utf-8")
        head = f"Content-Length: {len(body)}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        return (head + "\r\n").encode("ascii") + body


# -- the process link ------------------------------------------------------------------------


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            import select

            select.select([], [fd], [])
        except InterruptedError:
            continue


class _ProcessLink:
    """Streams one remote process to and from our stdio."""

    def __init__(
        self,
        remote: Remote,
        *,
        raw: bool,
        eof: bytes | None,
        lsp_scheme: str | None,
    ) -> None:
        self.remote = remote
        self.raw = raw
        self.eof = eof  # sent when our stdin ends (None: nothing)
        self.to_remote = LspTranslator(f"{lsp_scheme}:", "file:") if lsp_scheme else None
        self.from_remote = LspTranslator("file:", f"{lsp_scheme}:") if lsp_scheme else None
        self.proc_id = 0
        # One proc_stdin in flight at a time: the server runs requests concurrently, so two
        # outstanding writes could reach the process in either order.
        self._stdin_slot = threading.Semaphore(1)
        self._stdin_request: str | None = None
        self.killed = False
        self._signals = 0
        self._stdout_broken = False

    # -- sending (any thread) --------------------------------------------------------------

    def _send_quietly(self, request: Any) -> None:
        with contextlib.suppress(Exception):
            self.remote.send_one(request)

    def _in_thread(self, request: Any) -> None:
        threading.Thread(target=self._send_quietly, args=(request,), daemon=True).start()

    def kill(self) -> None:
        self.killed = True
        self._in_thread(requests.ProcKill(self.proc_id))

    def resize(self, size: PtySize) -> None:
        self._in_thread(requests.ProcResizePty(self.proc_id, size))

    # -- stdin -----------------------------------------------------------------------------

    def _send_stdin(self, data: bytes) -> None:
        self._stdin_slot.acquire()  # released when the previous write is answered
        rid = self._stdin_request = new_id()  # known before any reply can arrive
        self.remote.send_one(requests.ProcStdin(self.proc_id, data), rid=rid)

    def stdin_answered(self, origin: str) -> bool:
        """Called by the reader for every response: frees the stdin slot on its reply."""
        if origin != self._stdin_request:
            return False
        self._stdin_request = None
        self._stdin_slot.release()
        return True

    def _pump_stdin(self, fd: int) -> None:
        try:
            while True:
                try:
                    data = os.read(fd, READ_SIZE)
                except InterruptedError:
                    continue
                except OSError:
                    data = b""
                if self.to_remote is not None:
                    data = self.to_remote.feed(data) if data else self.to_remote.flush()
                if data:
                    self._send_stdin(data)
                    continue
                if self.eof is not None:
                    self._send_stdin(self.eof)
                return
        except Exception:  # the channel went away: the main thread reports it
            return

    def start_stdin(self) -> None:
        try:
            fd = sys.stdin.fileno() if sys.stdin is not None else -1
        except (OSError, ValueError, AttributeError):
            fd = -1
        if fd < 0:
            if self.eof is not None:
                self._send_quietly(requests.ProcStdin(self.proc_id, self.eof))
            return
        threading.Thread(target=self._pump_stdin, args=(fd,), daemon=True, name="stdin").start()

    # -- signals ---------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            raise KeyboardInterrupt
        self.kill()

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        installed: list[tuple[int, Any]] = []
        try:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(ValueError, OSError):
                    installed.append((sig, signal.signal(sig, self._on_signal)))
            yield
        finally:
            for sig, previous in reversed(installed):
                with contextlib.suppress(ValueError, OSError):
                    signal.signal(sig, previous)

    # -- output ----------------------------------------------------------------------------

    def _output(self, fd: int, data: bytes) -> None:
        if fd == 1:
            if self.from_remote is not None:
                data = self.from_remote.feed(data)
            if self._stdout_broken:
                return
        try:
            _write_fd(fd, data)
        except BrokenPipeError:
            if fd == 1:
                self._stdout_broken = True
                self.kill()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def run(self, spawn: requests.ProcSpawn) -> int:
        """Spawn, stream until ``proc_done``; the exit code."""
        rid = self.remote.send_one(spawn)
        first = self.remote.receive_for(rid).items[0]
        if isinstance(first, Error):
            raise CliError(f"Failed to spawn {spawn.cmd}: {first.description}")
        if not isinstance(first, responses.ProcSpawned):
            raise CliError(f"unexpected reply to proc_spawn: {type(first).__name__}")
        self.proc_id = first.id
        with self.signals():
            self.start_stdin()
            while True:
                origin, msg = self.remote.receive()
                if origin != rid:  # replies to proc_stdin / proc_resize_pty / proc_kill
                    self.stdin_answered(origin)
                    continue
                for item in msg.items:
                    if isinstance(item, responses.ProcStdout):
                        self._output(1, item.data)
                    elif isinstance(item, responses.ProcStderr):
                        self._output(2, item.data)
                    elif isinstance(item, responses.ProcDone):
                        if self.from_remote is not None:
                            self._output(1, self.from_remote.flush())
                        if self.killed and self._signals:
                            return INTERRUPTED
                        return exit_code_of(item.success, item.code)
                    elif isinstance(item, Error):
                        raise RemoteError(item)


def _stdin_is_a_terminal() -> bool:
    try:
        return sys.stdin is not None and os.isatty(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):
        return False


def _eof_for(spawn: requests.ProcSpawn) -> bytes | None:
    """What tells the remote process that our stdin ended: an empty ``proc_stdin`` for a
    plain process; for one on a PTY fed from a pipe or file, the terminal's end-of-file
    character (Ctrl-D), so that ``echo 'ls; exit' | distant shell`` ends; nothing when our
    stdin is a terminal (in raw mode Ctrl-D is just a byte the user typed)."""
    if spawn.pty is None:
        return b""
    return None if _stdin_is_a_terminal() else b"\x04"


def _run_process(
    remote: Remote,
    spawn: requests.ProcSpawn,
    *,
    raw: bool,
    lsp_scheme: str | None = None,
) -> int:
    link = _ProcessLink(remote, raw=raw, eof=_eof_for(spawn), lsp_scheme=lsp_scheme)
    if not raw:
        return link.run(spawn)
    terminal = RawTerminal(0)
    try:
        with on_window_change(link.resize):
            terminal.enter()
            return link.run(spawn)
    finally:
        terminal.restore()


def _default_shell(remote: Remote) -> str:
    info = check(remote.call(requests.SystemInfo()))
    if info.shell:
        return str(info.shell)
    return "cmd.exe" if info.family.lower() == "windows" else "/bin/sh"


def _pty_size() -> PtySize:
    return terminal_size() or PtySize.default()


def _with_term(environment: dict[str, str]) -> dict[str, str]:
    env = dict(environment)
    env.setdefault("TERM", "xterm-256color")
    return env


@cli_errors
def spawn(
    g: Globals,
    connection: int | None,
    cmd: Sequence[str] = (),
    *,
    cmd_str: str | None = None,
    pty: bool = False,
    lsp: str | None = None,
    shell: str | None = None,
    current_dir: str | None = None,
    environment: str | dict[str, str] | None = None,
    predict: str | None = None,
) -> int:
    """``spawn [-- CMD...]``. ``lsp``/``shell``: ``None`` when the flag is absent, ``""`` when
    given without a value (default scheme ``distant`` / the server's shell)."""
    command = cmd_str if cmd_str is not None else command_line(cmd)
    if not command.strip():
        raise CliError("no command to spawn", hint="distant spawn -- CMD [ARGS...]")
    env = parse_environment(environment)
    with Remote(g, connection) as remote:
        if shell is not None:
            try:
                command = parse_shell(shell or _default_shell(remote)).make_cmd_string(command)
            except ValueError as exc:
                raise CliError(str(exc)) from None
        if lsp is not None:
            size = (terminal_size() or PtySize.default()) if pty else None
            request = requests.ProcSpawn(command, env, current_dir, size)
            return _run_process(remote, request, raw=False, lsp_scheme=lsp or "distant")
        if pty:
            request = requests.ProcSpawn(command, _with_term(env), current_dir, _pty_size())
            return _run_process(remote, request, raw=True)
        return _run_process(remote, requests.ProcSpawn(command, env, current_dir, None), raw=False)


def _shell_session(
    remote: Remote,
    cmd: Sequence[str] | None,
    current_dir: str | None,
    environment: str | dict[str, str] | None,
) -> int:
    env = _with_term(parse_environment(environment))
    command = command_line(cmd) if cmd else _default_shell(remote)
    request = requests.ProcSpawn(command, env, current_dir, _pty_size())
    return _run_process(remote, request, raw=True)


@cli_errors
def shell(
    g: Globals,
    connection: int | None,
    cmd: Sequence[str] | None = None,
    *,
    current_dir: str | None = None,
    environment: str | dict[str, str] | None = None,
    predict: str | None = None,
) -> int:
    """``shell [-- CMD...]``: a PTY session running CMD or the server's shell."""
    with Remote(g, connection) as remote:
        return _shell_session(remote, cmd, current_dir, environment)


# -- ssh -------------------------------------------------------------------------------------


@cli_errors
def ssh(
    g: Globals,
    destination: str,
    cmd: Sequence[str] | None = None,
    *,
    options: str | dict[str, str] | None = None,
    current_dir: str | None = None,
    environment: str | dict[str, str] | None = None,
    predict: str | None = None,
    new: bool = False,
) -> int:
    """``ssh DEST [-- CMD...]``: connect with ``ssh://`` (reusing a connection to the same
    destination unless ``new``), select it, then run a shell session on it."""
    from distant_cli.auth import PromptAuth
    from distant_cli.cache import write_selected
    from distant_cli.commands.manage import same_destination
    from distant_cli.session import connect_manager

    dest = destination if "://" in destination else f"ssh://{destination}"
    opts = parse_environment(options, "--options")
    client = connect_manager(g)
    try:
        cid: int | None = None
        if not new:
            for existing, where in client.list().items():
                if same_destination(str(where), dest, "ssh"):
                    cid = existing
                    break
        if cid is None:
            try:
                cid = client.connect_to(dest, opts, PromptAuth())
            except CliError:
                raise
            except Exception as exc:
                raise CliError(f"Failed to connect to {dest}: {exc}") from None
        write_selected(g.cache, cid)
    finally:
        client.close()
    with Remote(g, cid) as remote:
        return _shell_session(remote, cmd, current_dir, environment)


def __getattr__(name: str) -> object:
    """The click commands (``spawn_command``, ``shell_command``, ``ssh_command``),
    imported on first use."""
    if name in ("spawn_command", "shell_command", "ssh_command"):
        from distant_cli.commands import spawn_click

        return getattr(spawn_click, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
