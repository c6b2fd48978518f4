"""A private OpenSSH ``sshd`` on 127.0.0.1, for the ssh tests and the benchmarks.

``with PrivateSshd() as sshd:`` generates a host key and a client key with ``ssh-keygen`` in a
temporary directory, writes an ``sshd_config`` there (loopback only, public-key
authentication with that client key only, ``internal-sftp``), starts ``/usr/sbin/sshd -D -e``
on a free port, waits until it greets, and on exit terminates exactly that sshd by its PID.

It exposes what a client needs: :attr:`~PrivateSshd.host`, :attr:`~PrivateSshd.port`,
:attr:`~PrivateSshd.user`, :attr:`~PrivateSshd.client_key` and
:attr:`~PrivateSshd.known_hosts`, plus :meth:`~PrivateSshd.ssh_args` for the ``ssh`` binary
and :meth:`~PrivateSshd.asyncssh_options` for ``asyncssh.connect``.

sshd must run as root (it switches to the logged-in user). By default that user is the
current one; :func:`ensure_user` creates a throwaway account with a plain ``/bin/sh`` and an
empty home, so a session does not source heavy shell start-up files.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["PrivateSshd", "SshdUnavailable", "ensure_user", "SSHD"]

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
PRIVSEP_DIR = Path("/run/sshd")
HOST = "127.0.0.1"

_INSTALL_HINT = (
    "the private sshd needs OpenSSH's server: "
    "apt-get install openssh-server (it provides /usr/sbin/sshd)"
)


class SshdUnavailable(RuntimeError):
    """sshd is not installed, or cannot be run here (not root)."""


def ensure_user(name: str, *, shell: str = "/bin/sh", home: str | None = None) -> str:
    """Make sure the local account ``name`` exists (creating it as a system user with
    ``shell`` and an empty home if not) and is not locked, then return its name.

    Without PAM, sshd refuses even public-key logins to a locked account (a password field
    starting with ``!``), so the password field is set to ``*``: no password login, not
    locked. Needs root.
    """
    try:
        pwd.getpwnam(name)
    except KeyError:
        home_dir = home or f"/var/lib/{name}"
        subprocess.run(
            ["useradd", "--system", "--shell", shell, "--home-dir", home_dir, name],
            check=True,
            capture_output=True,
        )
    entry = pwd.getpwnam(name)
    os.makedirs(entry.pw_dir, mode=0o755, exist_ok=True)
    os.chown(entry.pw_dir, entry.pw_uid, entry.pw_gid)
    subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True)
    return name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateSshd:
    """A context manager running a private sshd; see the module docstring.

    ``user`` is the account clients log in as (default: the current user). ``extra_config``
    lines are appended to the generated ``sshd_config``.
    """

    def __init__(
        self,
        *,
        user: str | None = None,
        extra_config: list[str] | None = None,
        start_timeout: float = 10.0,
        attempts: int = 5,
    ) -> None:
        self.host = HOST
        self.port = 0
        self.user = user or pwd.getpwuid(os.getuid()).pw_name
        self.extra_config = list(extra_config or [])
        self.start_timeout = start_timeout
        self.attempts = attempts
        self.directory = Path()
        self.client_key = Path()
        self.known_hosts = Path()
        self.config_path = Path()
        self.log_path = Path()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PrivateSshd {self.user}@{self.host}:{self.port} {state}>"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> PrivateSshd:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if not os.path.exists(SSHD):
            raise SshdUnavailable(f"{SSHD} is missing; {_INSTALL_HINT}")
        if shutil.which(SSH_KEYGEN) is None:
            raise SshdUnavailable(f"{SSH_KEYGEN} is missing; {_INSTALL_HINT}")
        if os.geteuid() != 0:
            raise SshdUnavailable("the private sshd must be started as root")
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="distant-sshd-")
        self.directory = Path(self._tmp.name)
        # Readable by the logged-in user: the authorized keys live here.
        self.directory.chmod(0o755)
        try:
            self._generate_keys()
            last_error = ""
            for _ in range(self.attempts):
                self.port = _free_port()
                self._write_config()
                last_error = self._launch()
                if not last_error:
                    return
            raise RuntimeError(
                f"sshd did not start after {self.attempts} attempts: {last_error.strip()}"
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate our sshd (by its PID only) and remove the temporary directory."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- for clients -----------------------------------------------------------------------

    def ssh_args(self, *extra: str) -> list[str]:
        """``ssh`` with everything needed to log in, e.g. ``ssh_args("true")``."""
        return [
            "ssh",
            "-p",
            str(self.port),
            "-i",
            str(self.client_key),
            "-l",
            self.user,
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-F",
            "/dev/null",
            self.host,
            *extra,
        ]

    def asyncssh_options(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncssh.connect``."""
        return {
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "client_keys": [str(self.client_key)],
            "known_hosts": str(self.known_hosts),
            "config": [],
            "agent_path": None,
        }

    def log(self) -> str:
        """What sshd has logged so far (LogLevel VERBOSE)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- internals -------------------------------------------------------------------------

    def _generate_keys(self) -> None:
        for name in ("host_ed25519", "client_ed25519"):
            subprocess.run(
                [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", name,
                 "-f", str(self.directory / name)],
                check=True,
                capture_output=True,
            )  # fmt: skip
        self.host_key = self.directory / "host_ed25519"
        self.client_key = self.directory / "client_ed25519"
        authorized = self.directory / "authorized_keys"
        authorized.write_text((self.directory / "client_ed25519.pub").read_text())
        authorized.chmod(0o644)
        # The logged-in user (maybe not root) only needs the authorized keys; the client key
        # stays root's.
        self.known_hosts = self.directory / "known_hosts"
        self.config_path = self.directory / "sshd_config"
        self.log_path = self.directory / "sshd.log"

    def _write_config(self) -> None:
        host_pub = (self.directory / "host_ed25519.pub").read_text().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        lines = [
            f"ListenAddress {self.host}",
            f"Port {self.port}",
            f"HostKey {self.host_key}",
            f"PidFile {self.directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitUserEnvironment no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "LogLevel VERBOSE",
            "MaxStartups 200",
            "MaxSessions 100",
            "Subsystem sftp internal-sftp",
            *self.extra_config,
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    def _launch(self) -> str:
        """Start sshd on ``self.port``; return "" once it greets, else why it failed."""
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return self.log() or f"sshd exited with status {proc.returncode}"
            if self._greets():
                self._proc = proc
                return ""
            time.sleep(0.02)
        _terminate(proc)
        return f"sshd did not accept connections within {self.start_timeout} s: {self.log()}"

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                return sock.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
