"""connect, launch, status, kill, select, version, system-info, manager/server/generate."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.harness import DISTANT, CliSession

NONE_ANSWER = '{"type":"auth_initialization_response","methods":["none"]}\n'
NONE_DIALOGUE = [
    {"type": "auth_initialization", "methods": ["none"]},
    {"type": "auth_start_method", "method": "none"},
    {"type": "auth_finished"},
]


def json_lines(text: str) -> list[object]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_version_flag() -> None:
    done = subprocess.run([*DISTANT, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert re.fullmatch(r"distant \d+\.\d+\.\d+\S* \[docker, host, pty, ssh\]\n", done.stdout)


def test_help_exits_0() -> None:
    done = subprocess.run([*DISTANT, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for command in ("connect", "launch", "status", "kill", "select", "api", "manager"):
        assert command in done.stdout


def listed(cli: CliSession) -> str:
    """A pattern for how the manager lists the ``cli`` connection's destination: a launched
    server as ``distant://localhost:PORT`` (no key), a connected one as it was given."""
    if not cli.destination:
        return r"distant://localhost:\d+"
    return re.escape(cli.destination)


def test_launch_selected_the_connection(cli: CliSession) -> None:
    assert cli.cache.read_text() == f'selected = "{cli.connection}"\n'


def test_status_lists_connections(cli: CliSession) -> None:
    done = cli.run("status")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("Manager: running\nConnections:\n")
    assert re.search(rf"^\* {cli.connection} -> {listed(cli)}$", done.stderr, re.M)


def test_status_json(cli: CliSession) -> None:
    done = cli.run("status", "-f", "json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert re.fullmatch(listed(cli), listing[str(cli.connection)])


def test_status_of_one_connection(cli: CliSession) -> None:
    shell = cli.run("status", str(cli.connection))
    assert shell.returncode == 0, shell.stderr
    lines = shell.stdout.splitlines()
    assert lines[0] == f"Connection {cli.connection}:"
    assert re.fullmatch(f"Host: {listed(cli)}", lines[1])
    assert lines[2].startswith("Options:")
    js = json.loads(cli.run("status", str(cli.connection), "--format", "json").stdout)
    assert js["id"] == cli.connection
    assert re.fullmatch(listed(cli), js["destination"])
    assert isinstance(js["options"], str)


def test_version_shell(cli: CliSession) -> None:
    done = cli.run("version")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"Client: \S+\+distant \(Protocol 0\.21\.0\)", lines[0])
    assert re.fullmatch(r"Server: \S+ \(Protocol 0\.21\.\d+\)", lines[1])
    assert "+exec" in done.stdout and "+fs_io" in done.stdout and "+sys_info" in done.stdout


def test_version_json(cli: CliSession) -> None:
    done = cli.run("version", "--format", "json", "--connection", str(cli.connection))
    assert done.returncode == 0, done.stderr
    version = json.loads(done.stdout)
    assert set(version) <= {"server_version", "protocol_version", "capabilities"}
    assert version["protocol_version"].startswith("0.21.")
    assert "exec" in version["capabilities"]


def test_system_info(cli: CliSession) -> None:
    done = cli.run("system-info")
    assert done.returncode == 0, done.stderr
    labels = [line.split(":", 1)[0] for line in done.stdout.splitlines()]
    assert labels == ["Family", "Operating System", "Arch", "Cwd", "Path Sep", "Username",
                      "Shell"]  # fmt: skip
    assert 'Family: "unix"\n' in done.stdout
    assert "Path Sep: '/'\n" in done.stdout


def test_manager_version(cli: CliSession) -> None:
    shell = cli.run("manager", "version")
    assert shell.returncode == 0, shell.stderr
    version = shell.stdout.strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version)
    assert json.loads(cli.run("manager", "version", "-f", "json").stdout) == {"version": version}


def _server_credentials(cli: CliSession) -> tuple[subprocess.Popen[str], str]:
    """A ``distant server listen`` of our own, and its credentials URL."""
    proc = subprocess.Popen(
        [*DISTANT, "server", "listen", "--host", "127.0.0.1", "--shutdown", "lonely=60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for _ in range(3):
        line = proc.stdout.readline()
        if line.startswith("distant://"):
            return proc, line.strip()
    proc.kill()
    raise AssertionError("no credentials from distant server listen")


@pytest.fixture
def server(cli: CliSession) -> object:
    proc, url = _server_credentials(cli)
    try:
        yield url
    finally:
        proc.kill()
        proc.wait()


def test_server_listen_prints_credentials(server: str) -> None:
    assert re.fullmatch(r"distant://:[0-9a-f]{64}@127\.0\.0\.1:\d+", server)


def test_server_listen_help_is_distant_server_help() -> None:
    done = subprocess.run(
        [*DISTANT, "server", "listen", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "--key-from-stdin" in done.stdout and "--shutdown" in done.stdout


def test_connect_reuse_and_new(cli: CliSession, server: str, tmp_path: Path) -> None:
    cache = tmp_path / "c.toml"
    first = cli.run("connect", server, "--cache", str(cache))
    assert first.returncode == 0, first.stderr
    cid = int(first.stdout)
    assert cache.read_text() == f'selected = "{cid}"\n'
    upper = server.replace("distant://", "DISTANT://").replace("127.0.0.1", "127.0.0.1")
    again = cli.run("connect", upper, "--format", "json", "--cache", str(cache),
                    input=NONE_ANSWER)  # fmt: skip
    assert again.returncode == 0, again.stderr
    lines = json_lines(again.stdout)
    assert lines[:3] == NONE_DIALOGUE
    assert lines[3] == {"type": "connected", "id": cid, "reused": True}
    new = cli.run("connect", "--new", server, "-f", "json", "--cache", str(cache),
                  input=NONE_ANSWER)  # fmt: skip
    assert new.returncode == 0, new.stderr
    last = json_lines(new.stdout)[-1]
    assert last["type"] == "connected" and last["reused"] is False and last["id"] != cid
    for killed in (cid, last["id"]):
        assert cli.run("kill", str(killed), "--cache", str(cache)).returncode == 0


def test_connect_with_key_option_and_prompt(cli: CliSession, server: str) -> None:
    key, _, hostport = server.removeprefix("distant://:").partition("@")
    cache = str(cli.cache) + ".opt"
    with_option = cli.run(
        "connect", "--new", f"distant://{hostport}", "--options", f"key={key}", "--cache", cache
    )
    assert with_option.returncode == 0, with_option.stderr
    prompted = cli.run(
        "connect", "--new", f"distant://{hostport}", "--cache", cache, input=key + "\n"
    )
    assert prompted.returncode == 0, prompted.stderr
    assert "Provide a key: " in prompted.stderr
    for out in (with_option, prompted):
        assert (
            cli.run("kill", out.stdout.strip(), "--cache", str(cli.cache) + ".opt").returncode == 0
        )


def test_connect_json_relays_the_challenge(cli: CliSession, server: str) -> None:
    key, _, hostport = server.removeprefix("distant://:").partition("@")
    answers = (
        NONE_ANSWER
        + '{"type":"auth_initialization_response","methods":["static_key"]}\n'
        + json.dumps({"type": "auth_challenge_response", "answers": [key]})
        + "\n"
    )
    done = cli.run("connect", "--new", "-f", "json", f"distant://{hostport}",
                   "--cache", str(cli.cache) + ".json", input=answers)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stdout)
    assert lines[:3] == NONE_DIALOGUE
    assert lines[3] == {"type": "auth_initialization", "methods": ["static_key"]}
    assert lines[4]["type"] == "auth_challenge"
    assert lines[4]["questions"][0]["label"] == "key"
    assert lines[5]["type"] == "connected" and lines[5]["reused"] is False
    assert len(lines) == 6  # start_method/finished of the relay are not printed
    cli.run("kill", str(lines[5]["id"]), "--cache", str(cli.cache) + ".json")


def test_connect_prompt_on_a_terminal(cli: CliSession, server: str) -> None:
    key, _, hostport = server.removeprefix("distant://:").partition("@")
    result = cli.run_pty(["connect", "--new", f"distant://{hostport}",
                          "--cache", str(cli.cache) + ".pty"],
                         [(b"Provide a key: ", key.encode() + b"\r")])  # fmt: skip
    assert result.returncode == 0, result.output
    assert key.encode() not in result.output  # no echo
    cid = result.output.rsplit(b"\n", 2)[-2].strip()
    assert cid.isdigit()
    cli.run("kill", cid.decode(), "--cache", str(cli.cache) + ".pty")


def test_launch_json(fresh: CliSession) -> None:
    done = fresh.run("launch", "manager://localhost", "-f", "json", input=NONE_ANSWER)
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stdout)
    assert lines[:3] == NONE_DIALOGUE
    assert lines[3]["type"] == "launched" and isinstance(lines[3]["id"], int)
    assert fresh.cache.read_text() == f'selected = "{lines[3]["id"]}"\n'
    fresh.manager.remember_children()


def test_kill_shell_resets_selection(fresh: CliSession) -> None:
    second = fresh.run("launch", "manager://localhost")
    assert second.returncode == 0, second.stderr
    fresh.manager.remember_children()
    other = int(second.stdout)
    assert fresh.cache.read_text() == f'selected = "{other}"\n'
    done = fresh.run("kill", str(other))
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"Killed {other} -> distant://localhost:\d+\n", done.stderr)
    # The selected connection was killed: the sole remaining one is selected.
    assert fresh.cache.read_text() == f'selected = "{fresh.connection}"\n'
    killed = fresh.run("kill", "-f", "json", input=NONE_ANSWER)  # json needs an id
    assert killed.returncode == 1
    assert json.loads(killed.stdout.splitlines()[-1])["type"] == "error"
    last = fresh.run("kill", "-f", "json", str(fresh.connection), input=NONE_ANSWER)
    assert last.returncode == 0, last.stderr
    assert json_lines(last.stdout) == [*NONE_DIALOGUE, {"type": "ok", "id": fresh.connection}]
    assert fresh.cache.read_text() == 'selected = "0"\n'
    empty = fresh.run("status")
    assert empty.stderr == "Manager: running\nNo active connections.\n"
    assert fresh.run("status", "-f", "json").stdout == "{}\n"


def test_select(fresh: CliSession) -> None:
    second = int(fresh.run("launch", "manager://localhost").stdout)
    fresh.manager.remember_children()
    ids = sorted([fresh.connection, second])
    assert fresh.run("select", str(fresh.connection)).returncode == 0
    assert fresh.cache.read_text() == f'selected = "{fresh.connection}"\n'
    other = ids[1] if ids[0] == fresh.connection else ids[0]
    answer = json.dumps({"type": "selected", "choice": ids.index(other)})
    done = fresh.run("select", "-f", "json", input=NONE_ANSWER + answer + "\n")
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stdout)
    assert lines[:3] == NONE_DIALOGUE
    prompt = lines[3]
    assert prompt["type"] == "select"
    assert prompt["current"] == ids.index(fresh.connection)
    assert [c.split(" -> ")[0] for c in prompt["choices"]] == [str(i) for i in ids]
    assert fresh.cache.read_text() == f'selected = "{other}"\n'
    bad = fresh.run("select", "-f", "json", input=NONE_ANSWER + '{"type":"selected","choice":9}\n')
    assert bad.returncode == 1
    assert json.loads(bad.stdout.splitlines()[-1])["type"] == "error"
    # The shell picker on a terminal.
    choice = f"{ids.index(fresh.connection) + 1}\r".encode()
    picked = fresh.run_pty(["select"], [(b"Select a connection", choice)])
    assert picked.returncode == 0, picked.output
    assert fresh.cache.read_text() == f'selected = "{fresh.connection}"\n'


def test_generate_config_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "config.toml"
    done = subprocess.run([*DISTANT, "generate", "config", "-o", str(out)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    import tomllib

    config = tomllib.loads(out.read_text())
    assert {"client", "manager", "server", "generate"} <= set(config)
    assert config["client"]["connect"]["options"] == ""
    assert config["manager"]["access"] == "owner"
    assert config["server"]["listen"]["host"] == "any"
    stdout = subprocess.run([*DISTANT, "generate", "config"], capture_output=True, text=True,
                            check=False).stdout  # fmt: skip
    assert stdout == out.read_text()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_generate_completion(shell: str) -> None:
    done = subprocess.run([*DISTANT, "generate", "completion", shell], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "_DISTANT_COMPLETE" in done.stdout


@pytest.mark.parametrize("shell", ["elvish", "powershell"])
def test_generate_completion_unsupported(shell: str) -> None:
    done = subprocess.run([*DISTANT, "generate", "completion", shell], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: completion for {shell} is not supported\n")


def test_manager_listen_daemon(tmp_path: Path) -> None:
    from tests.cli.harness import kill_pid, wait_for_socket

    sock = tmp_path / "d.sock"
    done = subprocess.run([*DISTANT, "manager", "listen", "--daemon", "--unix-socket", str(sock)],
                          capture_output=True, text=True, timeout=60, start_new_session=True,
                          stdin=subprocess.DEVNULL, check=False)  # fmt: skip
    match = re.fullmatch(r"\[distant manager detached, pid = (\d+)\]\n", done.stdout)
    assert match, (done.stdout, done.stderr)
    pid = int(match.group(1))
    try:
        assert done.returncode == 0
        wait_for_socket(sock)
    finally:
        kill_pid(pid)


def test_shell_completion_runs(tmp_path: Path) -> None:
    env = {**os.environ, "_DISTANT_COMPLETE": "bash_complete", "COMP_WORDS": "distant sta",
           "COMP_CWORD": "1"}  # fmt: skip
    done = subprocess.run(DISTANT, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0
    assert "plain,status" in done.stdout.splitlines()


def test_log_file(cli: CliSession, tmp_path: Path) -> None:
    log = tmp_path / "client.log"
    done = cli.run("status", "-f", "json", "--log-file", str(log), "--log-level", "debug")
    assert done.returncode == 0
    json.loads(done.stdout)  # nothing but the JSON on stdout
    assert log.exists()
