"""The packages as users install them: wheels built from this checkout, into a fresh venv.

``pip install distant-server`` must be all a remote host needs: it brings codec, auth and
net, and the ``distant-server`` entry point, and none of click, asyncssh or docker.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_STACK = ["distant-codec", "distant-auth", "distant-net", "distant-server"]


def _run(*args: str | Path, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_distant_server_installs_alone(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels,
         *[ROOT / "packages" / name for name in SERVER_STACK])  # fmt: skip
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", "--find-links", wheels, "distant-server")
    installed = {
        line.split("==")[0].lower() for line in _run(python, "-m", "pip", "freeze").split()
    }
    assert set(SERVER_STACK) <= installed
    assert not {"click", "asyncssh", "docker", "distant-cli", "distant-plugins"} & installed
    assert "distant-server" in _run(env / "bin" / "distant-server", "--version")
    assert "--key-from-stdin" in _run(env / "bin" / "distant-server", "listen", "--help")
