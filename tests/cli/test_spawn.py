"""``distant spawn`` end to end: stdio streaming, exit codes (§12.4), options, PTY, LSP
translation, and Ctrl-C killing the remote process."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time

import pytest

from tests.cli import test_fs
from tests.cli.conftest import SAME_PROCESS_NAMESPACE
from tests.cli.harness import DISTANT, CliSession, kill_pid
from tests.cli.test_fs import assert_one_line_error, ok

remote_tmp = test_fs.remote_tmp  # the fixture


def test_output_streams_and_exit_codes(cli: CliSession) -> None:
    done = cli.run("spawn", "--", "echo", "hello", "world")
    assert (done.returncode, done.stdout, done.stderr) == (0, "hello world\n", "")
    done = cli.run("spawn", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert cli.run("spawn", "--", "sh", "-c", "exit 300").returncode == 300 & 0xFF
    killed = cli.run("spawn", "--", "sh", "-c", "kill -9 $$")
    assert killed.returncode == 1  # no exit code: killed by a signal
    assert killed.stderr == ""


def test_command_without_double_dash(cli: CliSession) -> None:
    done = cli.run("spawn", "echo", "-n", "--pty", "x")  # everything after CMD is CMD's
    assert (done.returncode, done.stdout) == (0, "--pty x")


def test_stdin_is_forwarded(cli: CliSession) -> None:
    done = cli.run("spawn", "--", "sh", "-c", 'read a; read b; echo "$b $a"', input="x\ny\n")
    assert (done.returncode, done.stdout) == (0, "y x\n")


def test_stdin_end_reaches_the_process(cli: CliSession) -> None:
    done = cli.run("spawn", "--", "cat", input="all of it\n", timeout=15)
    assert (done.returncode, done.stdout) == (0, "all of it\n")


def test_large_binary_output(cli: CliSession, remote_tmp: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 11)
    path = f"{remote_tmp}/blob"
    assert cli.run_bytes("fs", "write", path, input=data).returncode == 0
    done = cli.run_bytes("spawn", "--", "cat", path)
    assert done.returncode == 0
    assert done.stdout == data


def test_cmd_shell_environment_and_current_dir(cli: CliSession, remote_tmp: str) -> None:
    assert ok(cli.run("spawn", "-c", 'echo "a  b"')) == "a  b\n"
    assert ok(cli.run("spawn", "--cmd", "echo one two")) == "one two\n"
    assert ok(cli.run("spawn", "--shell", "--", "echo $((1+2)) | tr 3 x")) == "x\n"
    assert ok(cli.run("spawn", "--shell", "/bin/sh", "-c", "echo $((2*3))")) == "6\n"
    bad = cli.run("spawn", "--shell", "notashell", "-c", "true")
    assert_one_line_error(bad, "Unsupported shell: notashell")
    env = cli.run("spawn", "--environment", 'FOO="bar baz",N=1', "--", "sh", "-c", 'echo "$FOO$N"')
    assert ok(env) == "bar baz1\n"
    real = ok(cli.run("spawn", "--", "sh", "-c", f"cd {remote_tmp} && pwd -P")).strip()
    cwd = cli.run("spawn", "--current-dir", remote_tmp, "--predict", "on", "--", "pwd", "-P")
    assert ok(cwd) == f"{real}\n"


def test_pty(cli: CliSession) -> None:
    done = cli.run_bytes("spawn", "--pty", "--", "sh", "-c", "tty; echo $TERM; exit 4")
    assert done.returncode == 4, done
    lines = done.stdout.split(b"\r\n")  # the remote terminal's line endings
    assert lines[0].startswith(b"/dev/")
    assert lines[1:] == [b"xterm-256color", b""]
    env = cli.run_bytes(
        "spawn", "--pty", "--environment", "TERM=dumb", "--", "sh", "-c", "echo $TERM"
    )
    assert env.stdout == b"dumb\r\n"


def test_errors(cli: CliSession) -> None:
    missing = cli.run("spawn", "--", "surely-not-a-command-xyz")
    assert_one_line_error(missing, "Failed to spawn surely-not-a-command-xyz")
    nothing = cli.run("spawn")
    assert nothing.returncode == 1 and nothing.stderr.startswith("error: ")
    bad_env = cli.run("spawn", "--environment", "=x", "--", "true")
    assert bad_env.returncode == 1 and "--environment" in bad_env.stderr


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_kills_the_remote_process(cli: CliSession, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [*DISTANT, "spawn", "--", "sh", "-c", "echo $$; exec sleep 300"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli.cli.env(),
        start_new_session=True,
    )
    try:
        line = _read_line(proc, 30)
        remote_pid = int(line.strip())
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 130
        if cli.backend in SAME_PROCESS_NAMESPACE:  # the remote process's pid is visible here
            deadline = time.monotonic() + 10
            while _alive(remote_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not _alive(remote_pid)
    finally:
        if proc.poll() is None:
            kill_pid(proc.pid)
        proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def _lsp_message(obj: object, indent: int | None = None) -> bytes:
    body = json.dumps(obj, indent=indent).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_lsp_translates_uris_both_ways(cli: CliSession, remote_tmp: str) -> None:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "textDocument/definition",
        "params": {"textDocument": {"uri": "distant:///src/main.rs"}},
    }
    as_server_sees_it = {**request, "params": {"textDocument": {"uri": "file:///src/main.rs"}}}
    translated = _lsp_message(as_server_sees_it, indent=2)
    seen = f"{remote_tmp}/seen"
    # The "server" echoes exactly the one message it gets, and keeps a copy.
    script = f"head -c {len(translated)} | tee {seen}"
    done = cli.run_bytes("spawn", "--lsp", "--", "sh", "-c", script, input=_lsp_message(request))
    assert done.returncode == 0, done.stderr
    assert cli.run_bytes("fs", "read", seen).stdout == translated
    header, _, body = done.stdout.partition(b"\r\n\r\n")
    assert header == f"Content-Length: {len(body)}".encode()
    assert json.loads(body) == request  # file:// came back as distant://

    custom = cli.run_bytes(
        "spawn", "--lsp", "ssh", "--", "sh", "-c", script, input=_lsp_message(
            {**request, "params": {"textDocument": {"uri": "ssh:///src/main.rs"}}}
        ),
    )  # fmt: skip
    assert custom.returncode == 0
    assert json.loads(custom.stdout.partition(b"\r\n\r\n")[2])["params"] == {
        "textDocument": {"uri": "ssh:///src/main.rs"}
    }
