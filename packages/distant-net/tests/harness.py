"""A real server and client over loopback TCP, for the client and server tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc

from distant_auth import SecretKey, StaticKeyHandler, Verifier
from distant_codec import MSG_REQUEST, MSG_RESPONSE, Msg
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import (
    Client,
    ConnectionInfo,
    ReconnectStrategy,
    RequestContext,
    Server,
    ServerSettings,
    SyncHandlerAdapter,
    open_connection,
)

KEY = SecretKey.generate()


class Echo:
    """Answers every request with ``exists true``."""

    async def on_connect(self, info: ConnectionInfo) -> None:
        return None

    async def on_request(self, ctx: RequestContext[Any, Any, None]) -> None:
        await ctx.reply(Msg.single(rs.Exists(True)))

    async def on_disconnect(self, state: None) -> None:
        return None


class ScriptedHandler:
    """Replies according to the request's path:

    * ``exists sleep:S`` waits S seconds, then replies ``exists true``;
    * ``file_read stream:N`` replies N ``proc_stdout`` messages numbered 0..N-1;
    * anything else: one ``exists true`` per batch item (a batch gets a batch reply).
    """

    def __init__(self) -> None:
        self.connected: list[ConnectionInfo] = []
        self.disconnected: list[dict[str, Any]] = []
        self.seen: list[Any] = []

    async def on_connect(self, info: ConnectionInfo) -> dict[str, Any]:
        self.connected.append(info)
        return {"id": info.connection_id, "requests": 0}

    async def on_request(self, ctx: RequestContext[Any, Any, dict[str, Any]]) -> None:
        ctx.state["requests"] += 1
        msg = ctx.request.payload
        self.seen.append(msg)
        first = msg.items[0]
        if isinstance(first, rq.Exists) and first.path.startswith("sleep:"):
            await anyio.sleep(float(first.path[6:]))
        if isinstance(first, rq.FileRead) and first.path.startswith("stream:"):
            for i in range(int(first.path[7:])):
                await ctx.reply(Msg.single(rs.ProcStdout(1, i.to_bytes(4, "big"))))
            return
        replies = [rs.Exists(True) for _ in msg.items]
        await ctx.reply(Msg.batch(replies) if msg.is_batch else Msg.single(replies[0]))

    async def on_disconnect(self, state: dict[str, Any]) -> None:
        self.disconnected.append(state)


class ServerRun:
    """A server under test: its port, and an event set when ``serve()`` returns by itself."""

    def __init__(self, server: Server[Any, Any, Any], port: int) -> None:
        self.server = server
        self.port = port
        self.stopped = anyio.Event()


@asynccontextmanager
async def running_server(handler: Any, **kwargs: Any) -> AsyncIterator[ServerRun]:
    server: Server[Any, Any, Any] = Server(
        handler,
        request_kind=MSG_REQUEST,
        response_kind=MSG_RESPONSE,
        settings=ServerSettings(lambda: Verifier.static_key(KEY)),
        **kwargs,
    )
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    run = ServerRun(server, port)

    async def serve(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        await server.serve(listener, task_status=task_status)
        run.stopped.set()

    async with listener, anyio.create_task_group() as tg:
        await tg.start(serve)
        yield run
        tg.cancel_scope.cancel()


@asynccontextmanager
async def connected_client(
    port: int, strategy: ReconnectStrategy | None = None, **kwargs: Any
) -> AsyncIterator[Client[Any, Any]]:
    async def dial() -> anyio.abc.ByteStream:
        return await anyio.connect_tcp("127.0.0.1", port)

    handler = SyncHandlerAdapter(StaticKeyHandler(KEY))
    async with (
        open_connection(dial, handler=handler, strategy=strategy, **kwargs) as conn,
        Client(conn, MSG_REQUEST, MSG_RESPONSE) as client,
    ):
        yield client
