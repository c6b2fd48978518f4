"""A blocking client of the manager, for the CLI: no anyio, no threads of its own.

One socket, one reader at a time. Responses that arrive for another request than the one
being waited for are queued by ``origin_id`` and handed out later, so several requests
(and channels) can be in flight at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any, TypeVar

from distant_auth import AuthHandler, NoneHandler
from distant_codec import (
    MANAGER_REQUEST,
    MANAGER_RESPONSE,
    MSG_EXTENDED_REQUEST,
    MSG_EXTENDED_RESPONSE,
    AuthChallenge,
    AuthError,
    AuthFinished,
    AuthInfo,
    AuthInitialization,
    AuthStartMethod,
    AuthVerification,
    CodecError,
    Header,
    Msg,
    Response,
    UntypedRequest,
    UntypedResponse,
    new_id,
)
from distant_codec import manager_requests as mreq
from distant_codec import manager_responses as mresp
from distant_net import (
    BlockingConnection,
    ConnectionClosed,
    blocking_connect,
    connect_unix_blocking,
)

from .channel_wire import (
    BIN_PAYLOADS,
    channel_request_parts,
    decode_channel_response,
    encode_channel_request,
)

__all__ = [
    "ManagerError",
    "ManagerUnavailable",
    "ChannelClosed",
    "BlockingManagerClient",
    "BlockingChannel",
]

R = TypeVar("R")

MANAGER_MAX_ITEM_SIZE = 64 * 1024 * 1024
"""The largest frame the manager sends its local clients (see distant_manager.listen)."""
Q = TypeVar("Q")


class ManagerError(Exception):
    """The manager answered with an error, or with something unexpected."""


class ManagerUnavailable(ManagerError):
    """No manager answers on any of the socket paths tried."""


class ChannelClosed(ConnectionClosed):
    """The manager closed the channel: its connection to the server ended (or was killed)."""


class BlockingManagerClient:
    """A connection to the manager; use :meth:`connect`."""

    def __init__(self, conn: BlockingConnection, path: str) -> None:
        self.conn = conn
        self.path = path
        self._queued: dict[str, deque[UntypedResponse]] = {}

    @classmethod
    def connect(
        cls,
        paths: Iterable[str],
        handler: AuthHandler | None = None,
        *,
        timeout: float | None = 30.0,
    ) -> BlockingManagerClient:
        """Connect to the first path where a manager answers."""
        errors: list[str] = []
        for path in paths:
            try:
                sock = connect_unix_blocking(path, timeout=timeout)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror or exc}")
                continue
            try:
                conn = blocking_connect(
                    sock, handler or NoneHandler(), max_item_size=MANAGER_MAX_ITEM_SIZE
                )
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                errors.append(f"{path}: {exc}")
                continue
            sock.settimeout(None)
            return cls(conn, path)
        raise ManagerUnavailable(
            "no manager is listening (tried " + "; ".join(errors or ["no paths"]) + ")"
        )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> BlockingManagerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the envelope level --------------------------------------------------------------------

    def send(self, payload: mreq.ManagerRequest, *, header: Header | None = None) -> str:
        """Send a manager request; returns its id."""
        return self.send_raw(MANAGER_REQUEST.encode(payload), header=header)

    def send_raw(self, payload: bytes, *, header: Header | None = None) -> str:
        rid = new_id()
        self.conn.send(UntypedRequest(rid, payload, dict(header or {})).to_bytes())
        return rid

    def next_for(self, origin: str) -> UntypedResponse:
        """The next response to request ``origin`` (others are queued)."""
        queued = _pop_queued(self._queued, origin)
        if queued is not None:
            return queued
        while True:
            response = UntypedResponse.from_bytes(self.conn.receive())
            if response.origin_id == origin:
                return response
            self._queued.setdefault(response.origin_id, deque()).append(response)

    def next_any(self, origins: set[str]) -> UntypedResponse:
        """The next response to any request in ``origins``."""
        for origin in origins & self._queued.keys():
            return self.next_for(origin)
        while True:
            response = UntypedResponse.from_bytes(self.conn.receive())
            if response.origin_id in origins:
                return response
            self._queued.setdefault(response.origin_id, deque()).append(response)

    def request(self, payload: mreq.ManagerRequest) -> mresp.ManagerResponse:
        """Send and return the reply; :class:`ManagerError` for an ``error`` reply."""
        rid = self.send(payload)
        return _check(MANAGER_RESPONSE.decode(self.next_for(rid).payload))

    # -- manager operations --------------------------------------------------------------------

    def version(self) -> str:
        return _expect(self.request(mreq.Version()), mresp.Version).version

    def list(self) -> dict[int, str]:
        return dict(_expect(self.request(mreq.List()), mresp.List).connections)

    def info(self, connection_id: int) -> mresp.ConnectionInfo:
        return _expect(self.request(mreq.Info(connection_id)), mresp.ConnectionInfo)

    def kill(self, connection_id: int) -> None:
        _expect(self.request(mreq.Kill(connection_id)), mresp.Killed)

    def launch(self, destination: str, options: dict[str, str], auth: AuthHandler) -> str:
        reply = self._with_auth(mreq.Launch(destination, options), auth)
        return _expect(reply, mresp.Launched).destination

    def connect_to(self, destination: str, options: dict[str, str], auth: AuthHandler) -> int:
        reply = self._with_auth(mreq.Connect(destination, options), auth)
        return _expect(reply, mresp.Connected).id

    def forward_tunnel(
        self, connection_id: int, bind_port: int, remote_host: str, remote_port: int
    ) -> tuple[int, int]:
        reply = self.request(mreq.ForwardTunnel(connection_id, bind_port, remote_host, remote_port))
        started = _expect(reply, mresp.ManagedTunnelStarted)
        return started.id, started.port

    def reverse_tunnel(
        self, connection_id: int, remote_port: int, local_host: str, local_port: int
    ) -> tuple[int, int]:
        reply = self.request(mreq.ReverseTunnel(connection_id, remote_port, local_host, local_port))
        started = _expect(reply, mresp.ManagedTunnelStarted)
        return started.id, started.port

    def close_managed_tunnel(self, tunnel_id: int) -> None:
        _expect(self.request(mreq.CloseManagedTunnel(tunnel_id)), mresp.ManagedTunnelClosed)

    def list_managed_tunnels(self) -> tuple[mresp.ManagedTunnelInfo, ...]:
        return _expect(self.request(mreq.ListManagedTunnels()), mresp.ManagedTunnels).tunnels

    def open_channel(self, connection_id: int, *, binary: bool = True) -> BlockingChannel:
        """Open a channel to the server behind ``connection_id``. ``binary`` asks for the
        ``bin_payloads`` extension (see :mod:`distant_manager.channel_wire`)."""
        header: Header = {BIN_PAYLOADS: True} if binary else {}
        rid = self.send(mreq.OpenChannel(connection_id), header=header)
        response = self.next_for(rid)
        opened = _expect(_check(MANAGER_RESPONSE.decode(response.payload)), mresp.ChannelOpened)
        agreed = binary and response.header.get(BIN_PAYLOADS) is True
        return BlockingChannel(self, opened.id, rid, binary=agreed)

    # -- the auth relay (§9.4) -----------------------------------------------------------------

    def _with_auth(self, payload: mreq.ManagerRequest, auth: AuthHandler) -> mresp.ManagerResponse:
        rid = self.send(payload)
        while True:
            reply = _check(MANAGER_RESPONSE.decode(self.next_for(rid).payload))
            if not isinstance(reply, mresp.Authenticate):
                return reply
            answer = _answer(auth, reply.msg)
            if answer is not None:
                self.send(mreq.Authenticate(reply.id, answer))


def _answer(auth: AuthHandler, msg: Any) -> Any:
    if isinstance(msg, AuthInitialization):
        return auth.on_initialization(msg)
    if isinstance(msg, AuthChallenge):
        return auth.on_challenge(msg)
    if isinstance(msg, AuthVerification):
        return auth.on_verification(msg)
    if isinstance(msg, AuthStartMethod):
        auth.on_start_method(msg)
    elif isinstance(msg, AuthInfo):
        auth.on_info(msg)
    elif isinstance(msg, AuthError):
        auth.on_error(msg)
    elif isinstance(msg, AuthFinished):
        auth.on_finished()
    return None


_MAX_WATCHED = 256
"""How many recent channel requests a channel watches for a refusal from the manager."""


class BlockingChannel:
    """A channel to one server: send API requests, read its responses."""

    def __init__(
        self, client: BlockingManagerClient, channel_id: int, origin: str, *, binary: bool
    ) -> None:
        self.client = client
        self.id = channel_id
        self.binary = binary
        self._origin = origin  # every response of the channel arrives under this id
        # Manager envelopes of recent channel requests: they only ever come back as errors
        # (a refused request), so only the newest few are kept (ordered dict as a set).
        self._sent: dict[str, None] = {}
        self._sent_lock = threading.Lock()
        self._queued: dict[str, deque[Response[Msg[Any]]]] = {}

    def send(self, payload: Msg[Any], *, header: Header | None = None) -> str:
        """Send one API request (a single or a batch ``Msg``, our extensions included);
        returns its id."""
        return self.send_untyped(
            UntypedRequest(new_id(), MSG_EXTENDED_REQUEST.encode(payload), dict(header or {}))
        )

    def send_untyped(self, request: UntypedRequest) -> str:
        if self.binary:
            envelope_id = new_id()
            self.client.conn.send_parts(channel_request_parts(self.id, request, envelope_id))
        else:
            wire = encode_channel_request(self.id, request, binary=False)
            envelope_id = self.client.send_raw(wire)
        with self._sent_lock:  # sends may come from another thread (spawn's stdin)
            self._sent[envelope_id] = None
            if len(self._sent) > _MAX_WATCHED:
                del self._sent[next(iter(self._sent))]
        return request.id

    def receive(self) -> Response[Msg[Any]]:
        """The next response on the channel, whatever request it answers."""
        for origin, queue in list(self._queued.items()):
            if queue:
                item = queue.popleft()
                if not queue:
                    del self._queued[origin]
                return item
        return self._read()

    def receive_untyped(self) -> UntypedResponse:
        """The next response on the channel, payload left as msgpack (for ``distant api``)."""
        return self._read_untyped()

    def receive_for(self, origin: str) -> Response[Msg[Any]]:
        """The next response to request ``origin`` (others are queued)."""
        queued = _pop_queued(self._queued, origin)
        if queued is not None:
            return queued
        while True:
            response = self._read()
            if response.origin_id == origin:
                return response
            self._queued.setdefault(response.origin_id, deque()).append(response)

    def request(self, payload: Msg[Any], *, header: Header | None = None) -> Response[Msg[Any]]:
        return self.receive_for(self.send(payload, header=header))

    def _read(self) -> Response[Msg[Any]]:
        inner = self._read_untyped()
        return Response.from_untyped(inner, MSG_EXTENDED_RESPONSE)

    def _read_untyped(self) -> UntypedResponse:
        while True:
            with self._sent_lock:
                watched = {self._origin, *self._sent}
            envelope = self.client.next_any(watched)
            if envelope.origin_id != self._origin:
                # A channel request is only ever answered when the manager refused it.
                with self._sent_lock:
                    self._sent.pop(envelope.origin_id, None)
                _check(MANAGER_RESPONSE.decode(envelope.payload))
                continue
            decoded = decode_channel_response(envelope.payload)
            if decoded is None:
                reply = _check(MANAGER_RESPONSE.decode(envelope.payload))
                if isinstance(reply, mresp.ChannelClosed):
                    raise ChannelClosed("the connection to the server ended")
                continue
            return decoded[1]

    def close(self) -> None:
        """Close the channel (best effort: the manager may already be gone)."""
        with contextlib.suppress(ManagerError, ConnectionClosed, CodecError, OSError):
            self.client.request(mreq.CloseChannel(self.id))


def _pop_queued(queues: dict[str, deque[Q]], origin: str) -> Q | None:
    """The oldest queued response to ``origin``, if any (an emptied queue is dropped)."""
    queue = queues.get(origin)
    if not queue:
        return None
    item = queue.popleft()
    if not queue:
        del queues[origin]
    return item


def _check(reply: mresp.ManagerResponse) -> mresp.ManagerResponse:
    if isinstance(reply, mresp.Error):
        raise ManagerError(reply.description)
    return reply


def _expect(reply: mresp.ManagerResponse, kind: type[R]) -> R:
    if not isinstance(reply, kind):
        raise ManagerError(f"unexpected reply from the manager: {type(reply).__name__}")
    return reply
