"""``distant tunnel open|listen|close|list`` end to end against a local TCP echo server."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.cli.conftest import skip_unless
from tests.cli.harness import CliSession
from tests.cli.test_fs import assert_one_line_error, ok

HEADER = "ID     Direction  Bind Port    Remote Host                    Remote Port\n"


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A TCP echo server on 127.0.0.1 (this machine)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def roundtrip(port: int, payload: bytes) -> bytes:
    """Send ``payload`` through ``port`` and read as many bytes back (no half-close: what a
    tunnel does with one is up to the manager)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        sender = threading.Thread(target=conn.sendall, args=(payload,), daemon=True)
        sender.start()
        got = b""
        while len(got) < len(payload) and (chunk := conn.recv(65536)):
            got += chunk
        sender.join()
    return got


@contextlib.contextmanager
def tunnels(cli: CliSession) -> Iterator[list[int]]:
    """Close every tunnel a test opened (the ``cli`` manager is shared)."""
    opened: list[int] = []
    try:
        yield opened
    finally:
        for tid in opened:
            cli.run("tunnel", "close", str(tid))


def test_open_forwards_a_local_port(cli: CliSession, echo_port: int) -> None:
    with tunnels(cli) as opened:
        out = ok(cli.run("tunnel", "open", f"0:127.0.0.1:{echo_port}"))
        m = re.fullmatch(
            rf"Tunnel (\d+) started: 127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:{echo_port}\n", out
        )
        assert m, out
        opened.append(int(m[1]))
        port = int(m[2])
        assert port != 0
        assert roundtrip(port, b"hello through the tunnel") == b"hello through the tunnel"
        assert roundtrip(port, b"again") == b"again"  # every connection is forwarded

        # HOST defaults to 127.0.0.1.
        out = ok(cli.run("tunnel", "open", f"0:{echo_port}"))
        m = re.fullmatch(
            rf"Tunnel (\d+) started: 127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:{echo_port}\n", out
        )
        assert m, out
        opened.append(int(m[1]))
        assert roundtrip(int(m[2]), b"default host") == b"default host"


def test_open_keeps_a_large_stream_in_order(cli: CliSession, echo_port: int) -> None:
    with tunnels(cli) as opened:
        out = ok(cli.run("tunnel", "open", f"0:127.0.0.1:{echo_port}"))
        tid, port = re.findall(r"Tunnel (\d+) started: 127\.0\.0\.1:(\d+)", out)[0]
        opened.append(int(tid))
        payload = bytes(range(256)) * 4096
        for _ in range(3):
            assert roundtrip(int(port), payload) == payload


def test_half_close_keeps_the_reply(cli: CliSession, echo_port: int) -> None:
    """The client shuts down its sending side: the echo of everything still comes back."""
    import socket

    with tunnels(cli) as opened:
        out = ok(cli.run("tunnel", "open", f"0:127.0.0.1:{echo_port}"))
        tid, port = re.findall(r"Tunnel (\d+) started: 127\.0\.0\.1:(\d+)", out)[0]
        opened.append(int(tid))
        payload = os.urandom(100_000)
        with socket.create_connection(("127.0.0.1", int(port)), timeout=20) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while len(got) < len(payload):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        assert bytes(got) == payload


def test_listen_forwards_a_remote_port(cli: CliSession, echo_port: int) -> None:
    skip_unless(cli, "reverse_tunnel")
    with tunnels(cli) as opened:
        out = ok(cli.run("tunnel", "listen", f"0:127.0.0.1:{echo_port}"))
        m = re.fullmatch(
            rf"Tunnel (\d+) started: remote port (\d+) -> 127\.0\.0\.1:{echo_port}\n", out
        )
        assert m, out
        opened.append(int(m[1]))
        # Every backend's remote shares this machine's loopback (sshd on 127.0.0.1, the
        # container on the host network), so the remote port is reachable from here.
        assert roundtrip(int(m[2]), b"through the server") == b"through the server"


def test_list_and_close(fresh: CliSession, echo_port: int) -> None:
    assert ok(fresh.run("tunnel", "list")) == "No active tunnels\n"
    first = ok(fresh.run("tunnel", "open", f"0:127.0.0.1:{echo_port}"))
    second = ok(fresh.run("tunnel", "listen", f"0:localhost:{echo_port}"))
    fid, fport = re.findall(r"Tunnel (\d+) started: 127\.0\.0\.1:(\d+)", first)[0]
    rid, rport = re.findall(r"Tunnel (\d+) started: remote port (\d+)", second)[0]
    listing = ok(fresh.run("tunnel", "list"))
    assert listing.startswith(HEADER)
    rows = listing[len(HEADER) :].splitlines(keepends=True)
    assert sorted(rows) == sorted(
        [
            f"{fid:<6} {'forward':<10} {fport:<12} {'127.0.0.1':<30} {echo_port:<6}\n",
            f"{rid:<6} {'reverse':<10} {rport:<12} {'localhost':<30} {echo_port:<6}\n",
        ]
    )
    assert ok(fresh.run("tunnel", "close", fid)) == f"Tunnel {fid} closed\n"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(fport)), timeout=5).close()
    assert fid not in {row.split()[0] for row in ok(fresh.run("tunnel", "list")).splitlines()[1:]}
    assert ok(fresh.run("tunnel", "close", rid)) == f"Tunnel {rid} closed\n"
    assert ok(fresh.run("tunnel", "list")) == "No active tunnels\n"


def test_errors(cli: CliSession) -> None:
    assert_one_line_error(cli.run("tunnel", "close", "4000000000"), "Failed to close tunnel")
    assert_one_line_error(cli.run("tunnel", "open", "bad"), "Invalid tunnel spec")
    assert_one_line_error(cli.run("tunnel", "open", "0:host:99999"), "Invalid peer port")
    assert_one_line_error(cli.run("tunnel", "listen", "x:1"), "Invalid bind port")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = cli.run("tunnel", "open", f"{port}:127.0.0.1:1")
        assert_one_line_error(taken, "Failed to start forward tunnel")
