"""The processes of ``bench_server``: ``python -m benchmarks._server_peer serve|load ...``.

``serve [--stub]``
    Serves ``distant_server.host.api.HostApi`` with ``distant_server.make_server`` over TCP on
127.0.0.1, on the trio backend as the product runs it, authenticating with a static key that
arrives as one hex line on stdin (keys never travel through argv).

    With ``--stub`` it serves a minimal Api instead (``metadata`` from ``os.stat``,
    ``proc_spawn`` through ``anyio.open_process``): only to develop the benchmark while the
    host Api is not importable; the benchmark labels such figures as the stub's.

    The process binds a port the OS picks and prints ``READY <port> <api>`` once it accepts
    connections. It runs until SIGINT. With ``BENCH_SERVER_PROFILE=<dir>`` it runs under
    cProfile and writes ``<dir>/server.prof`` on exit.

``load PORT CONNECTIONS REQUESTS PATH [lean|full]``
    One load-generating process, on trio: it opens CONNECTIONS distant client connections
    (static key from stdin) and prints ``CONNECTED``; on a ``GO`` line from stdin every
    connection sends REQUESTS ``metadata(PATH)`` requests one after the other (one in flight
    per connection: each connection is one closed-loop client). It then prints one JSON line:
    the start and end times (``time.monotonic``, comparable across processes), the latency of
    every request in seconds, and the number of errors (error replies, timeouts, lost
    connections). ``lean`` (the default) is :class:`_LeanClient`, ``full`` the product's
    client stack (:class:`_FullClient`).
"""

from __future__ import annotations

import functools
import os
import stat
import sys
from typing import Any


def _stub_api() -> Any:
    import anyio

    from distant_codec import common as cm
    from distant_codec import responses as rs
    from distant_server import Api

    class StubApi(Api):
        async def metadata(self, ctx: Any, req: Any) -> Any:
            st = os.stat(req.path)
            kind = cm.FileType.DIR if stat.S_ISDIR(st.st_mode) else cm.FileType.FILE
            return cm.Metadata(
                file_type=kind,
                len=st.st_size,
                readonly=not st.st_mode & 0o200,
                accessed=int(st.st_atime),
                modified=int(st.st_mtime),
                unix=cm.UnixMetadata.from_mode(st.st_mode),
            )

        async def proc_spawn(self, ctx: Any, req: Any) -> Any:
            process = await anyio.open_process(req.cmd.split())
            pid = process.pid

            async def wait() -> None:
                code = await process.wait()
                await ctx.send(rs.ProcDone(pid, code == 0, code))

            ctx.after_reply(wait)
            return rs.ProcSpawned(pid)

    return StubApi()


def _host_api() -> Any:
    from distant_server.host.api import HostApi

    return HostApi()


async def _serve(key_hex: str, stub: bool) -> None:
    import anyio

    from distant_auth import SecretKey
    from distant_net import listen_tcp
    from distant_server import make_server

    api = _stub_api() if stub else _host_api()
    server = make_server(api, SecretKey.from_hex(key_hex))
    listener = await listen_tcp("127.0.0.1", 0)
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve, listener)
        sys.stdout.write(f"READY {listener.port} {type(api).__name__}\n")
        sys.stdout.flush()


# -- the load generator ------------------------------------------------------------------------


class _LeanClient:
    """A closed-loop client on one connection, as light as the protocol allows.

    The connection is bootstrapped by distant-net's own ``client_connect`` (version exchange,
    codec negotiation, key exchange, static-key authentication), so the server sees an
    ordinary client. Then, to keep the generator's CPU off the measurement, the requests are
    sealed in advance (the default counter-nonce codec only needs them in order) and each
    reply is read straight off the socket, decrypted and decoded as a typed response.
    """

    def __init__(self, transport: Any, frames: list[bytes]) -> None:
        self.transport = transport
        self.frames = frames
        self.done = 0

    @classmethod
    async def open(cls, port: int, key: Any, requests: int, path: str) -> _LeanClient:
        from distant_auth import StaticKeyHandler
        from distant_codec import MSG_EXTENDED_REQUEST, Msg, Request
        from distant_codec import requests as rq
        from distant_net import (
            FramedTransport,
            ReplayBuffer,
            SyncHandlerAdapter,
            client_connect,
            connect_tcp,
        )

        transport = FramedTransport(await connect_tcp("127.0.0.1", port))
        handler = SyncHandlerAdapter(StaticKeyHandler(key))
        await client_connect(transport, handler=handler, replay=ReplayBuffer())
        payload: Any = Msg.single(rq.Metadata(path))
        encode = transport.codec.encode_framed
        frames = [
            bytes(encode(Request(payload).to_bytes(MSG_EXTENDED_REQUEST))) for _ in range(requests)
        ]
        return cls(transport, frames)

    async def run(self, latencies: list[float]) -> int:
        """Send every request, one at a time; return the number of errors."""
        import time

        from distant_codec import MSG_EXTENDED_RESPONSE, Response
        from distant_codec import common as cm
        from distant_net.acks import is_control

        send = self.transport.stream.send
        receive = self.transport.receive_frame
        clock = time.perf_counter
        record = latencies.append
        errors = 0
        for frame in self.frames:
            t0 = clock()
            await send(frame)
            item = await receive()
            while not item or is_control(item):  # a heartbeat, or the server's ack
                item = await receive()
            reply = Response.from_bytes(item, MSG_EXTENDED_RESPONSE)
            record(clock() - t0)
            self.done += 1
            if type(reply.payload.value) is not cm.Metadata:
                errors += 1
        return errors

    async def aclose(self) -> None:
        await self.transport.aclose()


class _FullClient:
    """A closed-loop client through the product's client stack (``open_connection`` and
    ``Client``: heartbeats, replay, reconnects, mailboxes). Heavier on the generator."""

    def __init__(self, client: Any, requests: int, path: str) -> None:
        self.client = client
        self.requests = requests
        self.path = path
        self.done = 0

    async def run(self, latencies: list[float]) -> int:
        import time

        from distant_codec import Msg
        from distant_codec import common as cm
        from distant_codec import requests as rq
        from distant_net import NetError

        payload = Msg.single(rq.Metadata(self.path))
        clock = time.perf_counter
        record = latencies.append
        errors = 0
        for _ in range(self.requests):
            t0 = clock()
            try:
                reply = await self.client.request(payload, timeout=30)
            except (NetError, TimeoutError):
                errors += 1
                self.done += 1
                continue
            record(clock() - t0)
            self.done += 1
            if type(reply.payload.value) is not cm.Metadata:
                errors += 1
        return errors


async def _load(
    key_hex: str, port: int, connections: int, requests: int, path: str, *, kind: str
) -> None:
    import json
    import time
    from contextlib import AsyncExitStack

    import anyio

    from distant_auth import SecretKey, StaticKeyHandler
    from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE
    from distant_net import Client, SyncHandlerAdapter, connect_tcp, open_connection

    key = SecretKey.from_hex(key_hex)

    async def dial() -> Any:
        return await connect_tcp("127.0.0.1", port)

    latencies: list[float] = []
    errors = 0
    clients: list[Any] = []
    async with AsyncExitStack() as stack:
        for _ in range(connections):
            if kind == "lean":
                lean = await _LeanClient.open(port, key, requests, path)
                stack.push_async_callback(lean.aclose)
                clients.append(lean)
                continue
            handler = SyncHandlerAdapter(StaticKeyHandler(key))
            conn = await stack.enter_async_context(open_connection(dial, handler=handler))
            client: Client[Any, Any] = Client(conn, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE)
            clients.append(_FullClient(await stack.enter_async_context(client), requests, path))
        sys.stdout.write("CONNECTED\n")
        sys.stdout.flush()
        await anyio.to_thread.run_sync(sys.stdin.readline)

        async def one_client(client: Any) -> None:
            nonlocal errors
            try:
                errors += await client.run(latencies)
            except Exception as exc:  # a lost connection: count what never completed
                sys.stderr.write(f"load client failed: {exc!r}\n")
                errors += requests - client.done

        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            for client in clients:
                tg.start_soon(one_client, client)
        end = time.monotonic()
    result = {"start": start, "end": end, "latencies": latencies, "errors": errors}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> None:
    mode, args = (argv[0], argv[1:]) if argv else ("", [])
    key_hex = sys.stdin.readline().strip()
    import anyio

    if mode == "load":
        port, connections, requests, path = int(args[0]), int(args[1]), int(args[2]), args[3]
        kind = args[4] if len(args) > 4 else "lean"
        run_load = functools.partial(_load, kind=kind)
        anyio.run(run_load, key_hex, port, connections, requests, path, backend="trio")
        return
    if mode != "serve":
        raise SystemExit(f"usage: python -m benchmarks._server_peer serve|load ... (got {mode!r})")
    stub = "--stub" in args

    def run() -> None:
        anyio.run(_serve, key_hex, stub, backend="trio")

    profile_dir = os.environ.get("BENCH_SERVER_PROFILE")
    try:
        if profile_dir:
            import cProfile

            profiler = cProfile.Profile()
            try:
                profiler.runcall(run)
            finally:
                profiler.dump_stats(os.path.join(profile_dir, "server.prof"))
        else:
            run()
    except* KeyboardInterrupt:  # SIGINT from the benchmark: a clean stop
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
