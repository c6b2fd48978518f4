"""The manager daemon through its socket: every ManagerRequest, against a real launched
``distant-server`` (the built-in ``distant`` plugin)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from distant_auth import BaseAuthHandler, NoneHandler
from distant_codec import AuthChallenge, AuthChallengeResponse, Msg
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_manager import BlockingManagerClient, ManagerError, ManagerUnavailable

from .harness import RunningManager, accepts_on, launch_local, port_of, running_manager


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory):
    with running_manager(tmp_path_factory.mktemp("manager")) as m:
        yield m


@pytest.fixture
def client(manager: RunningManager):
    with manager.client() as c:
        yield c


def test_version_and_empty_requests(client: BlockingManagerClient) -> None:
    assert client.version() == "0.21.0"
    assert isinstance(client.list(), dict)
    assert client.list_managed_tunnels() == () or isinstance(client.list_managed_tunnels(), tuple)


@pytest.mark.parametrize("op", ["info", "kill"])
def test_unknown_connection_is_an_error(client: BlockingManagerClient, op: str) -> None:
    with pytest.raises(ManagerError, match="no connection with id 12345"):
        getattr(client, op)(12345)
    assert client.version()  # still serving


def test_launch_connect_channel_kill(client: BlockingManagerClient) -> None:
    cid, destination = launch_local(client)
    port = port_of(destination)
    listed = client.list()[cid]
    assert listed == f"distant://localhost:{port}"  # the key is never shown
    info = client.info(cid)
    assert (info.id, info.destination) == (cid, listed)

    channel = client.open_channel(cid)
    assert channel.binary
    reply = channel.request(Msg.single(rq.Exists("/")))
    assert reply.payload.value == rs.Exists(True)
    batch = channel.request(Msg.batch([rq.Exists("/"), rq.Exists("/no/such/path")]))
    assert [item.value for item in batch.payload.items] == [True, False]

    client.kill(cid)
    assert cid not in client.list()
    deadline = time.monotonic() + 10
    while accepts_on(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not accepts_on(port), "the launched server outlived its connection"


def test_channel_without_bin_extension(client: BlockingManagerClient) -> None:
    """A client that does not ask for bin payloads gets upstream's int arrays."""
    cid, _ = launch_local(client)
    try:
        channel = client.open_channel(cid, binary=False)
        assert not channel.binary
        reply = channel.request(Msg.single(rq.FileRead("/proc/self/cmdline")))
        assert isinstance(reply.payload.value, rs.Blob)
    finally:
        client.kill(cid)


def test_unknown_channel_and_close(client: BlockingManagerClient) -> None:
    from distant_codec import manager_requests as mreq

    with pytest.raises(ManagerError, match="no channel with id 7"):
        client.request(mreq.CloseChannel(7))
    cid, _ = launch_local(client)
    try:
        channel = client.open_channel(cid)
        channel.close()
        with pytest.raises(ManagerError, match="no channel"):
            channel.request(Msg.single(rq.Exists("/")))
    finally:
        client.kill(cid)


def test_bad_destination_and_unknown_scheme(client: BlockingManagerClient) -> None:
    with pytest.raises(ManagerError, match="invalid destination"):
        client.connect_to("distant://host:notaport", {}, NoneHandler())
    with pytest.raises(ManagerError, match="no plugin handles scheme 'nope'"):
        client.connect_to("nope://host:1", {}, NoneHandler())
    with pytest.raises(ManagerError, match="64 hex"):
        client.connect_to("distant://:abc@localhost:1", {}, NoneHandler())
    assert client.version()


def test_wrong_key_is_refused(client: BlockingManagerClient) -> None:
    destination = client.launch("manager://localhost", {}, NoneHandler())
    wrong = destination.split("@")[1]
    with pytest.raises(ManagerError, match="authentication"):
        client.connect_to(f"distant://:{'0' * 64}@{wrong}", {}, NoneHandler())
    # the right one, as an option this time
    key = destination.split("@")[0].rsplit(":", 1)[1]
    cid = client.connect_to(f"distant://{wrong}", {"key": key}, NoneHandler())
    assert "key" not in client.info(cid).options
    client.kill(cid)


class _Answers(BaseAuthHandler):
    def __init__(self, key: str) -> None:
        self.key = key
        self.challenges: list[AuthChallenge] = []

    def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        self.challenges.append(msg)
        return AuthChallengeResponse(tuple(self.key for _ in msg.questions))


def test_challenge_is_relayed_without_a_key(client: BlockingManagerClient) -> None:
    destination = client.launch("manager://localhost", {}, NoneHandler())
    key = destination.split("@")[0].rsplit(":", 1)[1]
    handler = _Answers(key)
    cid = client.connect_to("distant://" + destination.split("@")[1], {}, handler)
    assert len(handler.challenges) == 1
    assert handler.challenges[0].questions[0].label == "key"
    client.kill(cid)


def test_connection_refused(client: BlockingManagerClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ManagerError, match="refused"):
        client.connect_to(f"distant://:{'1' * 64}@127.0.0.1:{port}", {}, NoneHandler())


def test_a_vanished_client_loses_only_its_channels(manager: RunningManager) -> None:
    with manager.client() as owner:
        cid, _ = launch_local(owner)
        gone = manager.client()
        gone.open_channel(cid)
        gone.close()
        channel = owner.open_channel(cid)
        assert channel.request(Msg.single(rq.Exists("/"))).payload.value == rs.Exists(True)
        owner.kill(cid)


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return

            def echo(c: socket.socket = conn) -> None:
                with c:
                    while data := c.recv(65536):
                        c.sendall(data)

            threading.Thread(target=echo, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def _round_trip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_forward_and_reverse_tunnels(client: BlockingManagerClient) -> None:
    echo, echo_port = _echo_server()
    cid, _ = launch_local(client)
    try:
        tid, port = client.forward_tunnel(cid, 0, "127.0.0.1", echo_port)
        payload = bytes(range(256)) * 1024
        assert _round_trip(port, payload) == payload
        rid, remote_port = client.reverse_tunnel(cid, 0, "127.0.0.1", echo_port)
        assert _round_trip(remote_port, b"hello reverse") == b"hello reverse"
        tunnels = {t.id: t for t in client.list_managed_tunnels()}
        assert tunnels[tid].direction == "forward" and tunnels[tid].bind_port == port
        assert tunnels[rid].direction == "reverse" and tunnels[rid].bind_port == remote_port
        client.close_managed_tunnel(tid)
        assert tid not in {t.id for t in client.list_managed_tunnels()}
        with pytest.raises(ManagerError, match="no managed tunnel"):
            client.close_managed_tunnel(tid)
    finally:
        client.kill(cid)
        echo.close()
    assert not [t for t in client.list_managed_tunnels() if t.connection_id == cid]


def test_socket_rules(tmp_path: Path, manager: RunningManager) -> None:
    from .harness import start_manager

    mode = Path(manager.path).stat().st_mode & 0o777
    assert mode == 0o600
    busy = start_manager(Path(manager.path))
    _, err = busy.communicate(timeout=30)
    assert busy.returncode == 1
    assert b"address in use" in err
    stale = tmp_path / "manager.sock"  # where running_manager binds
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(stale))  # bound, never listening: a stale file is replaced
    with running_manager(tmp_path) as other, other.client() as c:
        assert c.version()


def test_missing_manager(tmp_path: Path) -> None:
    with pytest.raises(ManagerUnavailable, match="no manager is listening"):
        BlockingManagerClient.connect([str(tmp_path / "none.sock")])


def test_server_killed_mid_session_ends_its_channels(manager: RunningManager) -> None:
    import os
    import signal

    from distant_net import ConnectionClosed

    from .harness import children_of

    with manager.client() as client:
        before = set(children_of(manager.process.pid))
        cid, _ = launch_local(client)
        other, _ = launch_local(client)
        servers = set(children_of(manager.process.pid)) - before
        assert len(servers) == 2
        channel = client.open_channel(cid)
        started = time.monotonic()
        channel.send(Msg.single(rq.ProcSpawn("sleep 30")))
        spawned = channel.receive()
        assert isinstance(spawned.payload.value, rs.ProcSpawned)
        # Which server is ours? The one whose child is the sleep.
        (ours,) = [pid for pid in servers if children_of(pid)]
        os.kill(ours, signal.SIGKILL)
        with pytest.raises(ConnectionClosed, match="connection to the server ended"):
            while True:
                channel.receive()
        assert time.monotonic() - started < 10
        assert cid not in client.list()
        survivor = client.open_channel(other)
        assert survivor.request(Msg.single(rq.Exists("/"))).payload.value == rs.Exists(True)
        client.kill(other)
