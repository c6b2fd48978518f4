"""``distant-server listen`` as a real process: credentials, key from stdin, port ranges,
daemon mode, shutdown, and bad flags."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest

from distant_auth import SecretKey
from distant_codec import Destination, find_credentials
from distant_codec import requests as rq
from distant_codec import responses as rs

from .harness import connect, one

SERVER = [sys.executable, "-m", "distant_server.cli"]
CREDENTIALS = re.compile(r"^\r\ndistant://:([0-9a-f]{64})@([0-9.:\[\]a-f]+):(\d+)\n\r\n$")


def _read_block(proc: subprocess.Popen[bytes], timeout: float = 20) -> str:
    """Read stdout until the credentials block (3 lines) is complete."""
    assert proc.stdout is not None
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < 3:
        if time.monotonic() > deadline:
            raise AssertionError(f"no credentials in time; got {data!r}")
        chunk = proc.stdout.read1(4096)  # type: ignore[attr-defined]
        if not chunk:
            raise AssertionError(f"server exited early; got {data!r}")
        data += chunk
    return data.decode()


@contextmanager
def server(*args: str, key: bytes | None = None) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc = subprocess.Popen(
        [*SERVER, "listen", "--log-level", "off", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None
        if key is not None:
            proc.stdin.write(key)
        proc.stdin.close()
        yield proc, _read_block(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_prints_the_credentials_block_and_serves() -> None:
    with server("--host", "127.0.0.1") as (_proc, block):
        m = CREDENTIALS.match(block)
        assert m, repr(block)
        dest = find_credentials(block, strict=True)
        assert dest is not None and dest.host == "127.0.0.1"

        async def check() -> None:
            assert dest is not None and dest.port is not None and dest.password is not None
            async with connect(dest.port, SecretKey.from_hex(dest.password)) as client:
                reply = await one(client, rq.Exists("/"))
                assert reply == rs.Exists(True)

        anyio.run(check, backend="trio")


def test_key_from_stdin_and_any_host() -> None:
    key = os.urandom(32)
    with server("--key-from-stdin", key=key) as (_proc, block):
        dest = find_credentials(block)
        assert dest is not None
        assert dest.password == key.hex()
        assert dest.host == "0.0.0.0"


def test_ipv6_any_is_bracketed() -> None:
    if not socket.has_ipv6:
        pytest.skip("this machine has no IPv6")
    with server("-6") as (_proc, block):
        assert "@[::]:" in block


def test_port_range_takes_the_first_free_port() -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        with server("--host", "127.0.0.1", "--port", f"{port}:{port + 20}") as (_p, block):
            dest = Destination.parse(block.strip())
            assert dest.port is not None and port < dest.port <= port + 20
    finally:
        busy.close()


def test_shutdown_after() -> None:
    with server("--host", "127.0.0.1", "--shutdown", "after=1") as (proc, _block):
        assert proc.wait(15) == 0


def test_bad_flags_exit_1_with_one_line() -> None:
    for args in (["--host", "nonsense"], ["--shutdown", "sometimes"], ["--port", "x"]):
        done = subprocess.run(
            [*SERVER, "listen", "--log-level", "off", *args],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert done.returncode in (1, 2), args  # argparse usage errors exit 2
        assert done.stderr.decode().strip().count("\n") <= 3
        assert b"Traceback" not in done.stderr


def test_key_from_stdin_needs_32_bytes() -> None:
    done = subprocess.run(
        [*SERVER, "listen", "--key-from-stdin"],
        input=b"short",
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert b"exactly 32 bytes" in done.stderr


def test_daemon_detaches_and_keeps_serving() -> None:
    done = subprocess.run(
        [*SERVER, "listen", "--daemon", "--host", "127.0.0.1", "--log-level", "off"],
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr
    m = re.search(r"\[distant server detached, pid = (\d+)\]", out)
    assert m, out
    pid = int(m.group(1))
    try:
        dest = find_credentials(out)
        assert dest is not None and dest.port is not None
        with socket.create_connection(("127.0.0.1", dest.port), timeout=5) as s:
            assert len(s.recv(24)) > 0  # the version bytes: the daemon is serving
    finally:
        os.kill(pid, signal.SIGTERM)
