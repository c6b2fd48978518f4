"""``distant api`` (§10): the JSON auth dialogue, then JSON lines both ways."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

from tests.cli.harness import DISTANT, CliSession

NONE_ANSWER = '{"type":"auth_initialization_response","methods":["none"]}\n'
NONE_DIALOGUE = [
    {"type": "auth_initialization", "methods": ["none"]},
    {"type": "auth_start_method", "method": "none"},
    {"type": "auth_finished"},
]


class Api:
    """A running ``distant api``: write lines, read JSON lines."""

    def __init__(self, cli: CliSession, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*DISTANT, "api", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli.cli.env(),
            start_new_session=True,
        )
        self.buffer = bytearray()

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def read(self, timeout: float = 30) -> dict[str, object]:
        """The next JSON line of stdout (read unbuffered, so select() sees what is left)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no output from distant api (got {bytes(self.buffer)!r})"
            chunk = os.read(fd, 65536)
            assert chunk, f"distant api ended: {self.stop()!r}"
            self.buffer += chunk
        line, _, rest = bytes(self.buffer).partition(b"\n")
        self.buffer = bytearray(rest)
        out = json.loads(line)
        assert isinstance(out, dict)
        return out

    def stop(self) -> bytes:
        if self.proc.poll() is None:
            self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        return err


def test_dialogue_then_requests(cli: CliSession) -> None:
    made = cli.run("spawn", "--", "mktemp", "-d")  # on the remote side, for every backend
    assert made.returncode == 0, made.stderr
    remote_dir = made.stdout.strip()
    target = f"{remote_dir}/hello.txt"
    wrote = cli.run("fs", "write", target, "hi")
    assert wrote.returncode == 0, wrote.stderr
    api = Api(cli)
    try:
        assert [api.read(), ] == [NONE_DIALOGUE[0]]  # fmt: skip
        api.send(NONE_ANSWER)
        assert [api.read(), api.read()] == NONE_DIALOGUE[1:]
        api.send(json.dumps({"id": "r1", "payload": {"type": "file_read", "path": target}})
                 + "\n")  # fmt: skip
        reply = api.read()
        assert set(reply) == {"id", "origin_id", "payload"}
        assert reply["origin_id"] == "r1"
        assert isinstance(reply["id"], str)
        assert reply["payload"] == {"type": "blob", "data": [104, 105]}
        batch = {"id": "b", "header": {"sequence": True}, "extra": 1,
                 "payload": [{"type": "exists", "path": target},
                             {"type": "exists", "path": f"{remote_dir}/nope"}]}  # fmt: skip
        api.send(json.dumps(batch) + "\n")
        reply = api.read()
        assert reply["origin_id"] == "b"
        assert reply["payload"] == [{"type": "exists", "value": True},
                                    {"type": "exists", "value": False}]  # fmt: skip
    finally:
        api.stop()
        cli.run("fs", "remove", "--force", remote_dir)


def test_bad_lines_are_skipped(cli: CliSession) -> None:
    api = Api(cli, "--timeout", "0.5", "--connection", str(cli.connection))
    try:
        api.read()
        api.send(NONE_ANSWER)
        api.read()
        api.read()
        api.send("this is not json\n")
        api.send('{"id": 5, "payload": {"type": "version"}}\n')  # id must be a string
        api.send('{"id": "x", "payload": {"type": "no_such_request"}}\n')
        api.send('{"payload": {"type": "version"}}\n')
        api.send("\n")
        api.send('{"id": "multi",\n "payload":\n {"type": "version"}}\n')  # spans lines
        reply = api.read()
        assert reply["origin_id"] == "multi"
        assert reply["payload"]["type"] == "version"  # type: ignore[index]
        api.send('{"id":"after","payload":{"type":"system_info"}}\n')
        assert api.read()["origin_id"] == "after"
        assert api.proc.poll() is None
    finally:
        err = api.stop()
    assert b"skipped" in err


def test_runs_after_end_of_input_until_the_channel_closes(fresh: CliSession) -> None:
    api = Api(fresh)
    try:
        api.read()
        api.send(NONE_ANSWER)
        api.read()
        api.read()
        api.send('{"id":"1","payload":{"type":"version"}}\n')
        assert api.read()["origin_id"] == "1"
        assert api.proc.stdin is not None
        api.proc.stdin.close()
        api.proc.stdin = None
        time.sleep(0.5)
        assert api.proc.poll() is None  # stdin EOF does not end the session
        assert fresh.run("kill", str(fresh.connection)).returncode == 0
        assert api.proc.wait(timeout=10) == 0
    finally:
        api.stop()


def test_streams(cli: CliSession) -> None:
    api = Api(cli)
    try:
        api.read()
        api.send(NONE_ANSWER)
        api.read()
        api.read()
        spawn = {"type": "proc_spawn", "cmd": "sh -c 'echo out; exit 3'"}
        api.send(json.dumps({"id": "p", "payload": spawn}) + "\n")
        seen: list[dict[str, object]] = []
        while not seen or seen[-1]["payload"]["type"] != "proc_done":  # type: ignore[index]
            seen.append(api.read())
        assert all(m["origin_id"] == "p" for m in seen)
        types = [m["payload"]["type"] for m in seen]  # type: ignore[index]
        assert types[0] == "proc_spawned"
        stdout = b"".join(bytes(m["payload"]["data"]) for m in seen  # type: ignore[index]
                          if m["payload"]["type"] == "proc_stdout")  # type: ignore[index]  # fmt: skip
        assert stdout == b"out\n"
        assert seen[-1]["payload"]["code"] == 3  # type: ignore[index]
    finally:
        api.stop()


def test_no_manager_no_auto_start(tmp_path: Path) -> None:
    sock = tmp_path / "nothing.sock"
    env = dict(os.environ, DISTANT_UNIX_SOCKET=str(sock), DISTANT_CACHE=str(tmp_path / "c"))
    done = subprocess.run([*DISTANT, "api"], input="", capture_output=True, text=True,
                          env=env, timeout=30, start_new_session=True, check=False)  # fmt: skip
    assert done.returncode == 1
    assert json.loads(done.stdout) == {
        "type": "error",
        "msg": f"no manager is running at {sock}",
    }
    assert not sock.exists()
