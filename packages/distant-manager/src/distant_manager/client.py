"""An async client of the manager for Python programs (anyio; trio or asyncio).

async with ManagerClient.connect("/run/user/1000/distant/me.distant.sock") as mc:
    cid = await mc.connect_to("distant://:KEY@host:port")
    async with mc.open_channel(cid) as channel:
        reply = await channel.request(Exists("/etc/hosts"))
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio

from distant_codec import (
    MANAGER_REQUEST,
    MANAGER_RESPONSE,
    MSG_EXTENDED_REQUEST,
    MSG_EXTENDED_RESPONSE,
    AuthChallenge,
    AuthInitialization,
    AuthVerification,
    Msg,
    Response,
    UntypedRequest,
    new_id,
)
from distant_codec import manager_requests as mreq
from distant_codec import manager_responses as mresp
from distant_net import (
    AsyncAuthHandler,
    Client,
    ClientSettings,
    ConnectionClosed,
    Fail,
    Mailbox,
    connect_unix,
    open_connection,
)

from .blocking_client import ManagerError
from .channel_wire import BIN_PAYLOADS, encode_channel_request

__all__ = ["ManagerClient", "AsyncChannel"]

R = TypeVar("R")


class ManagerClient:
    """Use :meth:`connect` as an async context manager."""

    def __init__(self, client: Client[Any, Any]) -> None:
        self._client = client

    @classmethod
    @asynccontextmanager
    async def connect(cls, path: str) -> AsyncIterator[ManagerClient]:
        async def dial() -> anyio.abc.ByteStream:
            return await connect_unix(path)

        async with (
            open_connection(
                dial, settings=ClientSettings(encrypt=False), strategy=Fail(), silence=None
            ) as conn,
            Client(conn, MANAGER_REQUEST, MANAGER_RESPONSE) as client,
        ):
            yield cls(client)

    async def request(self, payload: mreq.ManagerRequest) -> mresp.ManagerResponse:
        reply = (await self._client.request(payload)).payload
        assert isinstance(reply, mresp.ManagerResponse)
        if isinstance(reply, mresp.Error):
            raise ManagerError(reply.description)
        return reply

    async def version(self) -> str:
        return _expect(await self.request(mreq.Version()), mresp.Version).version

    async def list(self) -> dict[int, str]:
        return dict(_expect(await self.request(mreq.List()), mresp.List).connections)

    async def info(self, connection_id: int) -> mresp.ConnectionInfo:
        return _expect(await self.request(mreq.Info(connection_id)), mresp.ConnectionInfo)

    async def kill(self, connection_id: int) -> None:
        _expect(await self.request(mreq.Kill(connection_id)), mresp.Killed)

    async def connect_to(
        self,
        destination: str,
        options: dict[str, str] | None = None,
        auth: AsyncAuthHandler | None = None,
    ) -> int:
        reply = await self._with_auth(mreq.Connect(destination, dict(options or {})), auth)
        return _expect(reply, mresp.Connected).id

    async def launch(
        self,
        destination: str,
        options: dict[str, str] | None = None,
        auth: AsyncAuthHandler | None = None,
    ) -> str:
        reply = await self._with_auth(mreq.Launch(destination, dict(options or {})), auth)
        return _expect(reply, mresp.Launched).destination

    async def _with_auth(
        self, payload: mreq.ManagerRequest, auth: AsyncAuthHandler | None
    ) -> mresp.ManagerResponse:
        async with self._client.stream(payload) as mailbox:
            while True:
                reply: mresp.ManagerResponse = (await mailbox.next()).payload
                if isinstance(reply, mresp.Error):
                    raise ManagerError(reply.description)
                if not isinstance(reply, mresp.Authenticate):
                    return reply
                msg = reply.msg
                answer: Any = None
                if auth is None:
                    if isinstance(msg, AuthInitialization | AuthChallenge | AuthVerification):
                        raise ManagerError(f"authentication needs an answer: {type(msg).__name__}")
                    continue
                if isinstance(msg, AuthInitialization):
                    answer = await auth.on_initialization(msg)
                elif isinstance(msg, AuthChallenge):
                    answer = await auth.on_challenge(msg)
                elif isinstance(msg, AuthVerification):
                    answer = await auth.on_verification(msg)
                if answer is not None:
                    await self._client.fire(mreq.Authenticate(reply.id, answer))

    @asynccontextmanager
    async def open_channel(self, connection_id: int) -> AsyncIterator[AsyncChannel]:
        async with self._client.stream(
            mreq.OpenChannel(connection_id), header={BIN_PAYLOADS: True}
        ) as mailbox:
            first = await mailbox.next()
            opened = _expect(first.payload, mresp.ChannelOpened)
            binary = first.header.get(BIN_PAYLOADS) is True
            channel = AsyncChannel(self, opened.id, mailbox, binary)
            try:
                yield channel
            finally:
                with contextlib.suppress(ConnectionClosed):
                    await self._client.fire(mreq.CloseChannel(opened.id))


class AsyncChannel:
    """Requests to one server through the manager; responses in arrival order."""

    def __init__(
        self, owner: ManagerClient, channel_id: int, mailbox: Mailbox[Any], binary: bool
    ) -> None:
        self.id = channel_id
        self._owner = owner
        self._mailbox = mailbox
        self._binary = binary
        self._pending: dict[str, list[Response[Msg[Any]]]] = {}

    async def send(self, payload: Any, *, batch: bool = False) -> str:
        msg = Msg.batch(payload) if batch else Msg.single(payload)
        request = UntypedRequest(new_id(), MSG_EXTENDED_REQUEST.encode(msg))
        wire = encode_channel_request(self.id, request, binary=self._binary)
        client = self._owner._client
        await client.connection.send(UntypedRequest(new_id(), wire).to_bytes())
        return request.id

    async def receive(self) -> Response[Msg[Any]]:
        """The next response on this channel, whatever request it answers."""
        for origin, queued in list(self._pending.items()):
            if queued:
                item = queued.pop(0)
                if not queued:
                    del self._pending[origin]
                return item
        while True:
            envelope = await self._mailbox.next()
            payload = envelope.payload
            if isinstance(payload, mresp.Channel):
                return Response.from_untyped(payload.response, MSG_EXTENDED_RESPONSE)
            if isinstance(payload, mresp.ChannelClosed):
                raise ConnectionClosed("the channel was closed")

    async def receive_for(self, origin: str) -> Response[Msg[Any]]:
        queued = self._pending.get(origin)
        if queued:
            item = queued.pop(0)
            if not queued:
                del self._pending[origin]
            return item
        while True:
            response = await self.receive()
            if response.origin_id == origin:
                return response
            self._pending.setdefault(response.origin_id, []).append(response)

    async def request(self, payload: Any) -> Any:
        """Send one request and return the payload of its first reply."""
        response = await self.receive_for(await self.send(payload))
        return response.payload.value


def _expect(reply: Any, kind: type[R]) -> R:
    if not isinstance(reply, kind):
        raise ManagerError(f"unexpected reply from the manager: {type(reply).__name__}")
    return reply
