"""Failures (§12.4): one ``error:`` line (plus ``caused by``/``Try`` lines) on stderr and exit
1, or ``{"type":"error","msg":…}`` on stdout for ``--format json``; no tracebacks."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.cli.harness import Cli, CliSession, kill_pid, socket_peer_pid

NONE_ANSWER = '{"type":"auth_initialization_response","methods":["none"]}\n'
UNKNOWN = "4000000000"


def assert_shell_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1
    stderr = done.stderr
    assert "\nerror: " in "\n" + stderr, stderr  # after any prompt
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in stderr


def json_error(stdout: str) -> str:
    last = json.loads(stdout.splitlines()[-1])
    assert set(last) == {"type", "msg"} and last["type"] == "error"
    return str(last["msg"])


@pytest.mark.parametrize("destination", ["distant://[::1", "distant://host:notaport", "://x", ""])
def test_bad_destination(cli: CliSession, destination: str) -> None:
    done = cli.run("connect", destination)
    assert_shell_error(done, "destination")
    js = cli.run("connect", "-f", "json", destination, input=NONE_ANSWER)
    assert js.returncode == 1
    assert "destination" in json_error(js.stdout)


def test_unreachable_server_has_a_cause(cli: CliSession) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = cli.run("connect", "--new", f"distant://127.0.0.1:{port}")
    assert_shell_error(done, "failed to connect", "  caused by: ")


def test_wrong_key(cli: CliSession, tmp_path: Path) -> None:
    from tests.cli.test_admin import _server_credentials

    proc, url = _server_credentials(cli)
    try:
        hostport = url.rpartition("@")[2]
        wrong = "0" * 64
        in_destination = cli.run("connect", "--new", f"distant://:{wrong}@{hostport}")
        assert_shell_error(in_destination, "failed to connect")
        prompted = cli.run("connect", "--new", f"distant://{hostport}", input=wrong + "\n")
        assert_shell_error(prompted, "failed to connect")
        not_hex = cli.run("connect", "--new", f"distant://{hostport}", "--options", "key=xyz")
        assert not_hex.returncode == 1
        listing = json.loads(cli.run("status", "-f", "json").stdout)
        assert not any(hostport in dest for dest in listing.values())
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    "args",
    [
        ["status", UNKNOWN],
        ["kill", UNKNOWN],
        ["select", UNKNOWN],
        ["version", "--connection", UNKNOWN],
        ["system-info", "--connection", UNKNOWN],
        ["fs", "exists", "/", "--connection", UNKNOWN],
    ],
)
def test_unknown_connection_id(cli: CliSession, args: list[str]) -> None:
    done = cli.run(*args)
    assert_shell_error(done, f"no connection with id {UNKNOWN}")


def test_unknown_connection_id_json(cli: CliSession) -> None:
    done = cli.run("version", "-f", "json", "--connection", UNKNOWN)
    assert done.returncode == 1
    assert json_error(done.stdout) == f"no connection with id {UNKNOWN}"
    assert done.stderr == ""


def test_missing_manager_status_does_not_auto_start(no_manager: Cli) -> None:
    done = no_manager.run("status")
    assert done.returncode == 1
    assert done.stderr == f"error: no manager is running at {no_manager.socket}\n"
    assert done.stdout == ""
    js = no_manager.run("status", "-f", "json")
    assert (js.returncode, js.stdout) == (0, "{}\n")
    with_id = no_manager.run("status", "1")
    assert with_id.returncode == 1
    assert not no_manager.socket.exists()


def test_missing_manager_api_does_not_auto_start(no_manager: Cli) -> None:
    done = no_manager.run("api")
    assert done.returncode == 1
    assert json_error(done.stdout) == f"no manager is running at {no_manager.socket}"
    assert not no_manager.socket.exists()


def test_other_commands_auto_start_a_manager(no_manager: Cli) -> None:
    done = no_manager.run("manager", "version", timeout=60)
    try:
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()
        assert no_manager.socket.exists()
    finally:
        if no_manager.socket.exists():
            kill_pid(socket_peer_pid(no_manager.socket))


@pytest.mark.parametrize(
    "args",
    [
        ["status", "abc"],
        ["connect"],
        ["no-such-command"],
        ["--log-level", "loud", "status"],
        ["connect", "x", "--format", "xml"],
        ["status", "--connection"],
        ["kill", "-1"],
    ],
)
def test_argument_errors_exit_1(cli: CliSession, args: list[str]) -> None:
    done = cli.run(*args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr


def test_bad_options(cli: CliSession) -> None:
    done = cli.run("connect", "distant://localhost:1", "--options", "1=2")
    assert_shell_error(done, "bad --options")


def test_bad_launch_scheme(cli: CliSession) -> None:
    done = cli.run("launch", "nosuchscheme://x")
    assert_shell_error(done, "failed to launch", "nosuchscheme")
    js = cli.run("launch", "-f", "json", "nosuchscheme://x", input=NONE_ANSWER)
    assert js.returncode == 1
    assert "nosuchscheme" in json_error(js.stdout)


def test_json_auth_garbage_answer(cli: CliSession) -> None:
    done = cli.run("connect", "-f", "json", "distant://localhost:1", input="not json\n")
    assert done.returncode == 1
    json_error(done.stdout)


def test_server_killed_mid_command(fresh: CliSession) -> None:
    """The server behind a running `spawn` dies: one `error:` line, exit 1, and the manager
    goes on serving its other connections."""
    import os
    import signal
    import sys
    import time

    from tests.cli.harness import child_pids

    assert fresh.manager.process is not None
    manager_pid = fresh.manager.process.pid
    before = set(child_pids(manager_pid))
    other = fresh.run("launch", "manager://localhost")
    assert other.returncode == 0, other.stderr
    (other_server,) = set(child_pids(manager_pid)) - before
    proc = subprocess.Popen(
        [sys.executable, "-m", "distant_cli", "spawn", "--connection", str(fresh.connection),
         "--", "sleep", "60"],
        env=fresh.cli.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        ours = [pid for pid in before if child_pids(pid)]  # the server running the sleep
        while not ours and time.monotonic() < deadline:
            time.sleep(0.1)
            ours = [pid for pid in before if child_pids(pid)]
        assert ours, "the spawned process never appeared"
        os.kill(ours[0], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    survivor = fresh.run("fs", "exists", "/", "--connection", other.stdout.strip())
    assert (survivor.returncode, survivor.stdout) == (0, "true\n"), survivor.stderr
    assert other_server in child_pids(manager_pid)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x", "bad --plugin 'x': expected NAME=PATH"),
        ("x=/no/such/plugin", "plugin 'x': /no/such/plugin does not exist"),
        (
            "distant=/bin/true",
            "scheme 'distant' is claimed by both plugin 'distant' (DistantPlugin) and "
            "plugin 'distant' (ExternalPlugin)",
        ),
    ],
)
def test_bad_plugin_registrations_refuse_to_start(
    no_manager: Cli, value: str, message: str
) -> None:
    done = no_manager.run("manager", "listen", "--plugin", value)
    assert_shell_error(done, message)
    assert not no_manager.socket.exists()
