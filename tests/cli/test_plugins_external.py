"""External plugins end to end: ``distant manager listen --plugin NAME=PATH`` (and
``plugins.toml``) with a real plugin executable, the ``distant`` CLI on top, and a manager
that survives every way a plugin can fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.harness import Cli, ManagerProcess, child_pids

PLUGINS = Path(__file__).parents[2] / "packages" / "distant-plugins" / "tests" / "external_plugins"
SCRIPT = str(PLUGINS / "testplugin.py")
SHELL = str(PLUGINS / "connect_only.sh")


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ManagerProcess, Cli]]:
    workdir = tmp_path_factory.mktemp("external")
    # plugins.toml in the user's config directory (the harness points XDG_CONFIG_HOME here):
    # the same script as a plugin with a short setup timeout, and the shell plugin.
    toml = workdir / "config-home" / "distant" / "plugins.toml"
    toml.parent.mkdir(parents=True)
    toml.write_text(
        f'[plugins.slow]\npath = "{SCRIPT}"\nsetup_timeout = 1\n\n'
        f'[plugins.sh]\npath = "{SHELL}"\nschemes = ["sh", "shell"]\n'
    )
    process = ManagerProcess(workdir).start("--plugin", f"ext={SCRIPT}", "--log-level", "info")
    try:
        yield process, Cli(process.socket, workdir / "cache.toml", workdir)
    finally:
        process.stop()


def alive(manager: ManagerProcess, cli: Cli) -> None:
    """The manager still answers, and no plugin process is left behind."""
    done = cli.run("manager", "version")
    assert done.returncode == 0, done.stderr
    assert manager.process is not None and manager.process.poll() is None
    assert child_pids(manager.process.pid) == []


def connect(cli: Cli, destination: str) -> int:
    done = cli.run("connect", destination)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_connect_and_use_the_connection(
    manager: tuple[ManagerProcess, Cli], tmp_path: Path
) -> None:
    process, cli = manager
    (tmp_path / "present").write_text("hi")
    cid = connect(cli, "ext://serve")
    assert len(child_pids(process.process.pid)) == 1  # type: ignore[union-attr]
    exists = cli.run("fs", "exists", str(tmp_path / "present"))
    assert (exists.returncode, exists.stdout) == (0, "true\n"), exists.stderr
    missing = cli.run("fs", "exists", str(tmp_path / "absent"))
    assert (missing.returncode, missing.stdout) == (0, "false\n"), missing.stderr
    read = cli.run("fs", "read", str(tmp_path / "present"))
    assert (read.returncode, read.stdout) == (0, "hi"), read.stderr
    listing = json.loads(cli.run("status", "-f", "json").stdout)
    assert listing[str(cid)] == "ext://serve"
    assert cli.run("kill", str(cid)).returncode == 0
    alive(process, cli)  # killing the connection stopped the plugin


def test_launch_then_connect(manager: tuple[ManagerProcess, Cli], tmp_path: Path) -> None:
    process, cli = manager
    done = cli.run("launch", "ext://ok")
    assert done.returncode == 0, done.stderr
    cid = int(done.stdout.strip())  # launched ext://serve, then connected to it
    exists = cli.run("fs", "exists", "--connection", str(cid), str(tmp_path))
    assert (exists.returncode, exists.stdout) == (0, "true\n"), exists.stderr
    assert cli.run("kill", str(cid)).returncode == 0
    alive(process, cli)


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("ext://error-not_found", "plugin 'ext': not found: failed as not_found"),
        ("ext://error-permission_denied", "permission denied: failed as permission_denied"),
        ("shell://x", "plugin 'sh': connection refused: nothing listens"),
        ("ext://exit", "exited with code 2 before it was ready"),
        ("ext://notjson", "invalid setup line"),
        ("slow://hang", "plugin 'slow': setup timed out after 1 s"),
    ],
)
def test_a_failing_plugin_fails_only_its_request(
    manager: tuple[ManagerProcess, Cli], destination: str, message: str
) -> None:
    process, cli = manager
    done = cli.run("connect", destination)
    assert done.returncode == 1
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    alive(process, cli)


def test_a_launch_error_is_reported(manager: tuple[ManagerProcess, Cli]) -> None:
    process, cli = manager
    done = cli.run("launch", "sh://x")
    assert done.returncode == 1
    assert "plugin 'sh': unsupported: launch not supported" in done.stderr
    alive(process, cli)


def test_a_plugin_dying_mid_session_ends_only_its_connection(
    manager: tuple[ManagerProcess, Cli],
) -> None:
    process, cli = manager
    dying = connect(cli, "ext://die")
    done = cli.run("fs", "exists", "--connection", str(dying), "/")
    assert done.returncode == 1  # the channel closed under the request
    listing = json.loads(cli.run("status", "-f", "json").stdout)
    assert str(dying) not in listing  # the manager dropped the dead connection
    # and serves new ones
    cid = connect(cli, "ext://serve")
    ok = cli.run("fs", "exists", "--connection", str(cid), "/")
    assert (ok.returncode, ok.stdout) == (0, "true\n"), ok.stderr
    assert cli.run("kill", str(cid)).returncode == 0
    alive(process, cli)


def test_plugin_stderr_goes_to_the_log(manager: tuple[ManagerProcess, Cli]) -> None:
    process, cli = manager
    done = cli.run("connect", "ext://exit")
    assert "boom: cannot reach the backend" in done.stderr  # quoted in the error
    log = process.log.read_text()
    assert "plugin 'ext': boom: cannot reach the backend" in log, log


# -- registration errors at startup ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plugin", "x"], "bad --plugin 'x': expected NAME=PATH"),
        (["--plugin", "x=/no/such/plugin"], "/no/such/plugin does not exist"),
        (["--plugin", f"distant={SCRIPT}"], "scheme 'distant' is claimed by both"),
    ],
)
def test_bad_registrations_refuse_to_start(tmp_path: Path, args: list[str], message: str) -> None:
    cli = Cli(tmp_path / "m.sock", tmp_path / "cache.toml", tmp_path)
    done = cli.run("manager", "listen", "--unix-socket", str(tmp_path / "m.sock"), *args)
    assert done.returncode == 1
    assert "error: " in done.stderr and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "m.sock").exists()


def test_a_duplicate_scheme_in_plugins_toml_refuses_to_start(tmp_path: Path) -> None:
    toml = tmp_path / "config-home" / "distant" / "plugins.toml"
    toml.parent.mkdir(parents=True)
    toml.write_text(f'[plugins.a]\npath = "{SCRIPT}"\nschemes = ["x"]\n')
    cli = Cli(tmp_path / "m.sock", tmp_path / "cache.toml", tmp_path)
    done = cli.run(
        "manager", "listen", "--unix-socket", str(tmp_path / "m.sock"), "--plugin", f"x={SCRIPT}"
    )
    assert done.returncode == 1
    assert "scheme 'x' is claimed by both plugins 'a' and 'x'" in done.stderr, done.stderr
