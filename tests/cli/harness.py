"""Running the real ``distant`` executable against a real manager, for the CLI tests.

* :class:`ManagerProcess`: ``distant manager listen --unix-socket <dir>/m.sock`` as a child
  process; :meth:`~ManagerProcess.stop` ends it by its PID (and then any server it launched
  that is still alive, also by PID).
* :class:`Cli`: runs ``distant`` with ``DISTANT_UNIX_SOCKET`` and ``DISTANT_CACHE`` pointing at
  one manager and one cache file: :meth:`~Cli.run` (pipes) and :meth:`~Cli.run_pty` (a
  pseudo-terminal as the controlling terminal, for prompts and interactive commands).
* :class:`CliSession`: what the ``cli`` fixture yields: a manager, a connection made by
  ``distant launch`` for the backend under test, and a :class:`Cli` bound to both.

Every child runs in its own session (``start_new_session``), so a prompt never reaches the
terminal of whoever runs the tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DISTANT",
    "Cli",
    "CliSession",
    "ManagerProcess",
    "PtyResult",
    "child_pids",
    "kill_pid",
    "socket_peer_pid",
    "wait_for_socket",
]

_script = shutil.which("distant")
DISTANT: list[str] = [_script] if _script else [sys.executable, "-m", "distant_cli"]
"""The ``distant`` command: the installed entry point, else ``python -m distant_cli``."""


def wait_for_socket(
    path: Path, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something accepts connections on the Unix socket ``path`` (or until
    ``process``, which should listen there, exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TimeoutError(f"the process exited with {process.returncode}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(str(path))
                return
            except OSError:
                pass
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {path} after {timeout} s")


def socket_peer_pid(path: Path) -> int:
    """The PID of the process that accepts on the Unix socket ``path`` (SO_PEERCRED)."""
    import struct

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, _uid, _gid = struct.unpack("3i", creds)
    return int(pid)


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc)."""
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            state = f.read().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM ``pid``, then SIGKILL if it is still alive after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _base_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Keep the user's own config and cache out of the tests.
    env["XDG_CONFIG_HOME"] = str(workdir / "config-home")
    env["XDG_CACHE_HOME"] = str(workdir / "cache-home")
    env.pop("_DISTANT_COMPLETE", None)
    env.pop("DISTANT_NO_FASTPATH", None)
    return env


@dataclass
class ManagerProcess:
    """``distant manager listen`` on a private socket in ``workdir``."""

    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    launched: list[int] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.workdir / "m.sock"

    @property
    def log(self) -> Path:
        return self.workdir / "manager.log"

    def start(self, *extra: str) -> ManagerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*DISTANT, "manager", "listen", "--unix-socket", str(self.socket), *extra],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=_base_env(self.workdir),
                start_new_session=True,
            )
        try:
            wait_for_socket(self.socket, process=self.process)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"the manager did not start:\n{self.log.read_text()}") from None
        return self

    def remember_children(self) -> None:
        """Note the manager's children (launched servers) so :meth:`stop` can reap them."""
        if self.process is not None:
            for pid in child_pids(self.process.pid):
                if pid not in self.launched:
                    self.launched.append(pid)

    def stop(self) -> None:
        if self.process is None:
            return
        self.remember_children()
        kill_pid(self.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for pid in self.launched:  # the manager stops them; make sure
            kill_pid(pid, timeout=2.0)
        self.process = None


@dataclass
class PtyResult:
    output: bytes
    returncode: int


@dataclass
class Cli:
    """Runs ``distant`` against one manager socket and one cache file."""

    socket: Path
    cache: Path
    workdir: Path

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = _base_env(self.workdir)
        env["DISTANT_UNIX_SOCKET"] = str(self.socket)
        env["DISTANT_CACHE"] = str(self.cache)
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``distant ARGS`` with pipes; stdin is empty unless ``input`` is given."""
        return subprocess.run(
            [*DISTANT, *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(env),
            start_new_session=True,
            check=False,
        )

    def run_bytes(
        self,
        *args: str,
        input: bytes = b"",
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*DISTANT, *args],
            input=input,
            capture_output=True,
            timeout=timeout,
            env=self.env(env),
            start_new_session=True,
            check=False,
        )

    def run_pty(
        self,
        args: Sequence[str],
        input_bytes: bytes | Sequence[tuple[bytes, bytes]] = b"",
        timeout: float = 30,
        env: Mapping[str, str] | None = None,
    ) -> PtyResult:
        """Run ``distant ARGS`` on a new pseudo-terminal (its controlling terminal).

        ``input_bytes`` is written at once, or is a list of ``(wait_for, send)`` steps: each
        ``send`` is written once ``wait_for`` has appeared in the output (after the previous
        step's), since a password prompt discards what was typed before it.
        Returns everything the command wrote (stdout and stderr, as the terminal shows them)
        and its exit code.
        """
        master, slave = os.openpty()

        def make_controlling_terminal() -> None:  # runs in the child, after setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        try:
            proc = subprocess.Popen(
                [*DISTANT, *args],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self.env(env),
                start_new_session=True,
                preexec_fn=make_controlling_terminal,  # noqa: PLW1509 - tests, no threads
            )
        finally:
            os.close(slave)
        steps: list[tuple[bytes, bytes]]
        if isinstance(input_bytes, bytes | bytearray):
            steps = [(b"", bytes(input_bytes))] if input_bytes else []
        else:
            steps = list(input_bytes)
        output = bytearray()
        searched = 0
        deadline = time.monotonic() + timeout
        try:
            while True:
                while steps and steps[0][0] in output[searched:]:
                    wait_for, send = steps.pop(0)
                    searched = output.index(wait_for, searched) + len(wait_for)
                    if send:
                        os.write(master, send)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"distant {' '.join(args)}: no exit; got {bytes(output)!r}")
                ready, _, _ = select.select([master], [], [], min(remaining, 0.1))
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: every slave end is closed
                        chunk = b""
                    if not chunk:
                        break
                    output += chunk
                elif proc.poll() is not None and not steps:
                    # Exited; drain what is left, then stop.
                    continue
            returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            os.close(master)
            if proc.poll() is None:
                kill_pid(proc.pid, timeout=2.0)
                proc.wait()
        return PtyResult(bytes(output), returncode)


@dataclass
class CliSession:
    """What the ``cli`` fixture yields: a running manager and a launched connection."""

    backend: str
    manager: ManagerProcess
    cli: Cli
    connection: int
    destination: str = ""
    """What ``distant connect`` was given (empty for a launched connection)."""

    @property
    def socket(self) -> Path:
        return self.manager.socket

    @property
    def cache(self) -> Path:
        return self.cli.cache

    def run(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return self.cli.run(*args, input=input, timeout=timeout, env=env)

    def run_bytes(
        self,
        *args: str,
        input: bytes = b"",
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        return self.cli.run_bytes(*args, input=input, timeout=timeout, env=env)

    def run_pty(
        self,
        args: Sequence[str],
        input_bytes: bytes | Sequence[tuple[bytes, bytes]] = b"",
        timeout: float = 30,
        env: Mapping[str, str] | None = None,
    ) -> PtyResult:
        return self.cli.run_pty(args, input_bytes, timeout, env)


HOST_COMMAND = ("launch", "manager://localhost")
"""How the ``host`` backend gets its connection: a ``distant-server`` launched locally."""


def start_session(backend: str, workdir: Path, command: Sequence[str] = HOST_COMMAND) -> CliSession:
    """A manager in ``workdir`` and the connection ``distant <command>`` makes for
    ``backend`` (``launch manager://localhost``, ``connect ssh://...``, ...)."""
    manager = ManagerProcess(workdir).start()
    try:
        cli = Cli(manager.socket, workdir / "cache.toml", workdir)
        done = cli.run(*command, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"distant {command[0]} failed: {done.stderr}")
        manager.remember_children()
        destination = command[1] if command[0] == "connect" else ""
        return CliSession(backend, manager, cli, int(done.stdout.strip()), destination)
    except BaseException:
        manager.stop()
        raise
