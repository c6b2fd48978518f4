"""The processes the CLI benchmarks need: the ``distant`` executable and its environment, a
manager on a private socket with a launched local server, and an OpenSSH ControlMaster to
the private loopback sshd (``tests/support/sshd.py``).

Every process started here is stopped by its own PID (or, for the ControlMaster, by
``ssh -O exit`` on its own control socket), never by name.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_USER = "distant-bench"
READY_TIMEOUT = 30.0

_MANAGER_CODE = (
    "import sys; from distant_manager import ManagerListenOptions, listen_manager; "
    "sys.exit(listen_manager(ManagerListenOptions(socket_path=sys.argv[1])))"
)


class CliUnavailable(RuntimeError):
    """The ``distant`` CLI cannot run a one-shot command yet."""


# -- the executable and its environment ------------------------------------------------------


def distant_command() -> tuple[list[str], str]:
    """How to run ``distant``, and a description of it.

    The console script beside this interpreter when it is installed (a pyenv shim on PATH
    is a shell script that would add its own start-up to every run), else
    ``python -m distant_cli``.
    """
    script = Path(sys.executable).parent / "distant"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], str(script)
    return [sys.executable, "-m", "distant_cli"], "python -m distant_cli"


def compile_sources() -> None:
    """Write the .pyc files a real install ships (this environment sets
    PYTHONDONTWRITEBYTECODE, and the editable install compiled nothing)."""
    sources = sorted(str(p) for p in ROOT.glob("packages/*/src"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", *sources], check=True)


def child_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONDONTWRITEBYTECODE, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


# -- /proc -----------------------------------------------------------------------------------


def proc_status_kib(pid: int, field_name: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (VmRSS, VmHWM), in KiB; 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current VmRSS (``clear_refs`` 5; Linux >= 4.0, needs privilege)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (every thread's ``children`` list, else /proc scan)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found.update(int(x) for x in f.read().split())
    if found:
        return sorted(found)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
            stat = f.read()
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields and int(fields[1]) == pid:
            found.add(int(entry))
    return sorted(found)


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


# -- the manager and a launched server -------------------------------------------------------


@dataclass
class DistantSide:
    """A manager on a private socket, connected to a server it launched on this machine."""

    command: list[str]
    described: str
    env: dict[str, str]
    manager: subprocess.Popen[bytes]
    manager_how: str
    server_pid: int
    connection: str
    launch_seconds: float


def _wait_for_socket(path: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CliUnavailable(f"the manager exited with {proc.returncode} before listening")
        if os.path.exists(path):
            with socket.socket(socket.AF_UNIX) as sock:
                try:
                    sock.connect(path)
                    return
                except OSError:
                    pass
        time.sleep(0.02)
    raise CliUnavailable(f"the manager did not listen on {path} within {timeout:g} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start_manager(
    command: list[str], sock: str, env: dict[str, str], log: Any
) -> tuple[subprocess.Popen[bytes], str]:
    """``distant manager listen --unix-socket``; if the CLI cannot, the same manager via
    ``listen_manager`` in ``python -c``."""
    tries = [
        ([*command, "manager", "listen", "--unix-socket", sock], "distant manager listen"),
        ([sys.executable, "-c", _MANAGER_CODE, sock], "python -c listen_manager(...)"),
    ]
    last = ""
    for argv, how in tries:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            _wait_for_socket(sock, proc, READY_TIMEOUT)
            return proc, how
        except CliUnavailable as exc:
            last = f"{how}: {exc}"
            _stop(proc)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(sock)
    raise CliUnavailable(f"no manager could be started ({last})")


@contextlib.contextmanager
def distant_side() -> Iterator[DistantSide]:
    """Start a manager, ``distant launch manager://localhost``, and find the server's PID."""
    command, described = distant_command()
    with tempfile.TemporaryDirectory(prefix="distant-bench-cli-") as tmp:
        sock = os.path.join(tmp, "manager.sock")
        env = child_env(DISTANT_UNIX_SOCKET=sock, DISTANT_CACHE=os.path.join(tmp, "cache.toml"))
        log_path = os.path.join(tmp, "manager.log")
        with open(log_path, "ab") as log:
            manager, how = _start_manager(command, sock, env, log)
        try:
            t0 = time.perf_counter()
            launched = subprocess.run(
                [*command, "launch", "manager://localhost"],
                check=False,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=120,
            )
            launch_seconds = time.perf_counter() - t0
            if launched.returncode != 0:
                raise CliUnavailable(
                    f"`distant launch manager://localhost` exited with {launched.returncode}: "
                    f"{launched.stderr.decode(errors='replace').strip()[-2000:]}"
                )
            connection = launched.stdout.decode(errors="replace").strip()
            servers = [p for p in children_of(manager.pid) if _looks_like_server(p)]
            if len(servers) != 1:
                raise CliUnavailable(
                    f"expected one launched server under the manager, found {servers} "
                    f"(children: {[(p, cmdline(p)) for p in children_of(manager.pid)]})"
                )
            yield DistantSide(
                command, described, env, manager, how, servers[0], connection, launch_seconds
            )
        finally:
            server_pids = [p for p in children_of(manager.pid) if _looks_like_server(p)]
            _stop(manager)
            for pid in server_pids:  # the manager reaps them; make sure of it
                if _is_child_alive(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def _looks_like_server(pid: int) -> bool:
    args = cmdline(pid)
    return any("distant_server" in a or "distant-server" in a for a in args) or (
        "server" in args and "listen" in args
    )


def _is_child_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cli_ready() -> tuple[bool, str]:
    """Whether ``distant --help`` runs; else what it said."""
    command, _ = distant_command()
    try:
        done = subprocess.run(
            [*command, "--help"], check=False, env=child_env(), capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if done.returncode != 0:
        return False, (done.stderr or done.stdout).decode(errors="replace").strip()[-1000:]
    return True, ""


# -- OpenSSH: the private sshd and a ControlMaster -------------------------------------------


@dataclass
class SshMaster:
    sshd: Any
    control: str

    def ssh(self, *remote: str) -> list[str]:
        """``ssh -S <control> ... host CMD`` through the master."""
        args = self.sshd.ssh_args(*remote)
        return [args[0], "-S", self.control, *args[1:]]

    def sftp(self, batch: str) -> list[str]:
        """``sftp -b <batch>`` through the master (``-o ControlPath``), same login options."""
        s = self.sshd
        return [
            "sftp", "-q", "-b", batch, "-F", "/dev/null",
            "-o", f"ControlPath={self.control}", "-o", "ControlMaster=no",
            "-P", str(s.port), "-i", str(s.client_key), "-o", f"User={s.user}",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={s.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "GlobalKnownHostsFile=/dev/null",
            s.host,
        ]  # fmt: skip


@contextlib.contextmanager
def ssh_master() -> Iterator[SshMaster]:
    """The private sshd (logged into as ``distant-bench``) and a ControlMaster to it."""
    sys.path.insert(0, str(ROOT))
    from tests.support.sshd import PrivateSshd, ensure_user

    with (
        PrivateSshd(user=ensure_user(BENCH_USER)) as sshd,
        tempfile.TemporaryDirectory(prefix="distant-bench-ssh-") as tmp,
    ):
        control = os.path.join(tmp, "control.sock")
        args = sshd.ssh_args()
        start = [args[0], "-M", "-S", control, "-o", "ControlPersist=yes", "-fN", *args[1:]]
        subprocess.run(start, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        master = SshMaster(sshd, control)
        control_args = master.ssh()[:-1]  # without the host
        check = subprocess.run(
            [*control_args, "-O", "check", sshd.host], check=False, capture_output=True, timeout=30
        )
        found = re.search(rb"pid=(\d+)", check.stderr)
        try:
            if check.returncode != 0 or found is None:
                raise RuntimeError(f"no ControlMaster: {check.stderr.decode(errors='replace')}")
            yield master
        finally:
            subprocess.run(
                [*control_args, "-O", "exit", sshd.host], check=False, capture_output=True,
                timeout=30,
            )  # fmt: skip
            if found:  # our master, by its PID, if -O exit did not end it
                pid = int(found.group(1))
                for _ in range(100):
                    if not os.path.exists(f"/proc/{pid}"):
                        break
                    time.sleep(0.02)
                else:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
