"""A real manager in a subprocess, for tests that drive it through its socket."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from distant_auth import NoneHandler
from distant_manager import BlockingManagerClient


@dataclass
class RunningManager:
    path: str
    process: subprocess.Popen[bytes]

    def client(self) -> BlockingManagerClient:
        return BlockingManagerClient.connect([self.path])


def start_manager(path: Path, *extra: str) -> subprocess.Popen[bytes]:
    code = (
        "import sys\n"
        "from distant_manager import ManagerListenOptions, listen_manager\n"
        f"sys.exit(listen_manager(ManagerListenOptions(socket_path={str(path)!r}{''.join(extra)})))\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)


def wait_for_socket(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                BlockingManagerClient.connect([str(path)], timeout=5).close()
                return
            except Exception:
                pass
        time.sleep(0.05)
    raise TimeoutError(f"no manager on {path}")


@contextmanager
def running_manager(tmp: Path) -> Iterator[RunningManager]:
    path = tmp / "manager.sock"
    process = start_manager(path)
    try:
        wait_for_socket(path)
        yield RunningManager(str(path), process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch_local(client: BlockingManagerClient) -> tuple[int, str]:
    """``launch manager://localhost`` then connect: (connection id, destination with key)."""
    destination = client.launch("manager://localhost", {}, NoneHandler())
    return client.connect_to(destination, {}, NoneHandler()), destination


def port_of(destination: str) -> int:
    return int(destination.rsplit(":", 1)[1])


def accepts_on(port: int) -> bool:
    """Whether anything accepts on 127.0.0.1:port."""
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out
