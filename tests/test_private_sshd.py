"""The private sshd of ``tests/support/sshd.py``: it starts, lets our key in, and stops."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.sshd import SSHD, PrivateSshd

pytestmark = pytest.mark.skipif(
    not os.path.exists(SSHD) or os.geteuid() != 0,
    reason="needs root and openssh-server (apt-get install openssh-server)",
)


def test_ssh_logs_in_with_the_generated_key() -> None:
    with PrivateSshd() as sshd:
        assert sshd.running
        result = subprocess.run(
            sshd.ssh_args("echo", "hello"), check=False, capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr + sshd.log()
        assert result.stdout == "hello\n"
        assert "Accepted publickey" in sshd.log()
        port = sshd.port
    assert sshd.pid is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_wrong_key_is_refused(tmp_path: Path) -> None:
    other = str(tmp_path / "other")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
    with PrivateSshd() as sshd:
        args = sshd.ssh_args("true")
        args[args.index(str(sshd.client_key))] = other
        result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=30)
        assert result.returncode == 255
        assert "Permission denied" in result.stderr
