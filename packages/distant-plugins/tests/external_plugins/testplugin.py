#!/usr/bin/env python3
"""A real external plugin for the tests: what it does is chosen by the destination's host.

    testplugin.py connect|launch SCHEME://MODE [--key=value ...]

connect modes:
  serve      {"ready": true}, then serve this host's distant API (distant_server's HostApi,
             in process) as binary frames on stdio (§11)
  auth       one challenge; answer "open sesame" -> serve, else permission_denied
  auth2      two rounds of challenges (answers "one", then "two") -> serve
  error-K    {"error": {"kind": K, ...}} and exit 1 (K = not_found, permission_denied, ...)
  args       report argv (as an error of kind other) so a test can check it
  hang       never answer (``--pidfile=PATH`` records its pid first)
  die        ready; exit with code 3 on the first request
  garbage    ready; then a frame header announcing 2**40 bytes
  exit       write to stderr and exit 2 before ready
  notjson    write a line that is not JSON
  launch     (connect) send a destination: a protocol error
launch modes:
  ok         {"destination": "SCHEME://serve"} (with ``--password=P``: SCHEME://u:P@serve)
  ready      send {"ready": true}: a protocol error
  error-K    as for connect
"""

from __future__ import annotations

import json
import os
import sys
import time


def say(obj: object) -> None:
    os.write(1, (json.dumps(obj) + "\n").encode())


def ask(questions: list[dict[str, object]]) -> list[str]:
    say({"auth_challenge": {"questions": questions, "options": {"instructions": "test"}}})
    line = sys.stdin.buffer.readline()
    return list(json.loads(line)["auth_response"]["answers"])


def serve(die_on_first: bool = False) -> None:
    """Bridge binary frames on stdio to an in-process distant server."""
    import trio

    from distant_codec import FrameDecoder, encode_frame
    from distant_plugins.in_process import serve_api
    from distant_server.host.api import HostApi

    async def main() -> None:
        stdin = trio.lowlevel.FdStream(os.dup(0))
        stdout = trio.lowlevel.FdStream(os.dup(1))
        async with serve_api(HostApi()) as link, trio.open_nursery() as nursery:

            async def down() -> None:
                async for item in link:
                    await stdout.send_all(encode_frame(item))

            nursery.start_soon(down)
            decoder = FrameDecoder(64 * 1024 * 1024)
            while chunk := await stdin.receive_some(65536):
                decoder.feed(chunk)
                for frame in decoder:
                    if die_on_first:
                        sys.stderr.write("dying on purpose\n")
                        sys.stderr.flush()
                        os._exit(3)
                    if frame:
                        await link.send(frame)
            sys.stderr.write("stdin closed, bye\n")
            nursery.cancel_scope.cancel()

    trio.run(main)


def main(argv: list[str]) -> int:
    command, destination, *flags = argv
    options = dict(flag[2:].split("=", 1) for flag in flags)
    scheme, _, rest = destination.partition("://")
    mode = rest.rsplit("@", 1)[-1].split(":", 1)[0]
    sys.stderr.write(f"testplugin {command} {mode} starting\n")
    sys.stderr.flush()
    if "pidfile" in options:
        with open(options["pidfile"], "w") as f:
            f.write(str(os.getpid()))
    if mode.startswith("error-"):
        say({"error": {"kind": mode[6:], "description": f"failed as {mode[6:]}"}})
        return 1
    if mode == "args":
        say({"error": {"description": json.dumps(argv)}})
        return 1
    if mode == "hang":
        time.sleep(3600)
        return 0
    if mode == "exit":
        sys.stderr.write("boom: cannot reach the backend\n")
        return 2
    if mode == "notjson":
        os.write(1, b"hello, this is not json\n")
        time.sleep(3600)
        return 0
    if command == "launch":
        if mode == "ready":
            say({"ready": True})
            return 0
        password = options.get("password")
        userinfo = f"u:{password}@" if password else ""
        say({"destination": f"{scheme}://{userinfo}serve"})
        return 0
    if mode == "launch":
        say({"destination": f"{scheme}://serve"})
        return 0
    if mode == "auth":
        answers = ask([{"text": "Password:", "label": "pw", "options": {"echo": "false"}}])
        if answers != ["open sesame"]:
            say({"error": {"kind": "permission_denied", "description": "Authentication failed"}})
            return 1
    if mode == "auth2" and (
        ask([{"text": "First:"}]) != ["one"] or ask([{"text": "Second:"}]) != ["two"]
    ):
        say({"error": {"kind": "permission_denied", "description": "Authentication failed"}})
        return 1
    if mode == "garbage":
        say({"ready": True})
        os.write(1, (2**40).to_bytes(8, "big") + b"xx")
        time.sleep(3600)
        return 0
    say({"ready": True})
    serve(die_on_first=mode == "die")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
