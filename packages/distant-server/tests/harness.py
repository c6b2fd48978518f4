"""A real Api server on loopback TCP and a client of it, for the server's tests.

``async with api_client(SomeApi()) as client:`` serves ``SomeApi`` through the real
dispatcher and distant-net (handshake, encryption, static key), and yields a
``distant_net.Client`` speaking ``Msg<Request>`` / ``Msg<Response>`` (with extensions).
``await one(client, request)`` sends a single request and returns its single reply payload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc

from distant_auth import SecretKey, StaticKeyHandler
from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE, Msg
from distant_net import Client, SyncHandlerAdapter, open_connection
from distant_server import Api, ApiServer, make_server


class Served:
    def __init__(self, server: ApiServer, client: Client[Any, Any]) -> None:
        self.server = server
        self.client = client


@asynccontextmanager
async def serving(
    api: Api, **server_kwargs: Any
) -> AsyncIterator[tuple[ApiServer, int, SecretKey]]:
    key = SecretKey.generate()
    server = make_server(api, key, **server_kwargs)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        await tg.start(server.serve, listener)
        yield server, port, key
        tg.cancel_scope.cancel()


@asynccontextmanager
async def connect(port: int, key: SecretKey) -> AsyncIterator[Client[Any, Any]]:
    async def dial() -> anyio.abc.ByteStream:
        return await anyio.connect_tcp("127.0.0.1", port)

    handler = SyncHandlerAdapter(StaticKeyHandler(key))
    async with (
        open_connection(dial, handler=handler) as conn,
        Client(conn, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE) as client,
    ):
        yield client


@asynccontextmanager
async def api_client(api: Api, **server_kwargs: Any) -> AsyncIterator[Client[Any, Any]]:
    """One server for ``api`` and one connected client."""
    async with serving(api, **server_kwargs) as (_server, port, key), connect(port, key) as client:
        yield client


async def one(client: Client[Any, Any], request: Any, timeout: float = 10) -> Any:
    """Send one request; return the payload of its single reply."""
    reply = await client.request(Msg.single(request), timeout=timeout)
    return reply.payload.value
