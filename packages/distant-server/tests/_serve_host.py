"""Serve the host's FileOps on 127.0.0.1 in a process of its own (for test_host_memory.py).

The 32-byte key arrives raw on stdin (never in argv); the bound port is printed on stdout.
Runs on trio, like our server processes do, until killed.
"""

from __future__ import annotations

import sys

import anyio
import anyio.abc

from distant_auth import SecretKey
from distant_server import make_server
from distant_server.host.files import FileOps


async def main() -> None:
    key = SecretKey(sys.stdin.buffer.read(32))
    sys.stdin.close()
    server = make_server(FileOps(), key)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve, listener)
        print(port, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, backend="trio")
