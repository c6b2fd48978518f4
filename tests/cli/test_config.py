"""The configuration file (§12.1): defaults for flags, never over flags or the environment."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from distant_cli.commands.daemons import server_listen_args
from distant_cli.config import DEFAULT_CONFIG, load_config, lookup
from distant_cli.errors import CliError
from distant_cli.session import Globals
from tests.cli.harness import Cli, CliSession, ManagerProcess


def test_default_config_is_valid_toml() -> None:
    config = tomllib.loads(DEFAULT_CONFIG)
    assert lookup(config, "client", "connect", "options") == ""
    assert lookup(config, "client", "launch", "options") == ""
    assert lookup(config, "manager", "access") == "owner"
    assert lookup(config, "client", "nope", "x") is None


def test_merge_user_over_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = tmp_path / "etc.toml"
    system.write_text('[client]\nlog_level = "debug"\nunix_socket = "/sys.sock"\n')
    user_home = tmp_path / "xdg"
    (user_home / "distant").mkdir(parents=True)
    (user_home / "distant" / "config.toml").write_text('[client]\nunix_socket = "/user.sock"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user_home))
    monkeypatch.setattr(
        "distant_cli.config.default_config_paths",
        lambda: [str(system), str(user_home / "distant" / "config.toml")],
    )
    config = load_config(None)
    assert config["client"] == {"log_level": "debug", "unix_socket": "/user.sock"}
    explicit = tmp_path / "only.toml"
    explicit.write_text("[manager]\naccess = 'group'\n")
    assert load_config(str(explicit)) == {"manager": {"access": "group"}}


def test_bad_config_is_a_cli_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[client\n")
    with pytest.raises(CliError, match="bad config file"):
        load_config(str(bad))
    with pytest.raises(CliError, match="cannot read the config file"):
        load_config(str(tmp_path / "missing.toml"))


def test_globals_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[client]\nunix_socket = "/from-config.sock"\n')
    monkeypatch.delenv("DISTANT_UNIX_SOCKET", raising=False)
    assert Globals(config=str(cfg)).finalize().unix_socket == "/from-config.sock"
    monkeypatch.setenv("DISTANT_UNIX_SOCKET", "/from-env.sock")
    assert Globals(config=str(cfg)).finalize().unix_socket == "/from-env.sock"
    flag = Globals(config=str(cfg), unix_socket="/from-flag.sock").finalize()
    assert flag.unix_socket == "/from-flag.sock"


def test_server_listen_args_from_config(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[server.listen]\nhost = "127.0.0.1"\nport = "0"\nuse_ipv6 = true\n')
    g = Globals(config=str(cfg))
    assert server_listen_args(g, ["--port", "8080"]) == [
        "--host", "127.0.0.1", "--use-ipv6", "--port", "8080"
    ]  # fmt: skip
    assert server_listen_args(g, ["--help"]) == ["--help"]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_unix_socket_and_connect_options(cli: CliSession, tmp_path: Path) -> None:
    cfg = _write(tmp_path / "cfg.toml", f'[client]\nunix_socket = "{cli.socket}"\n')
    env = {"DISTANT_UNIX_SOCKET": ""}
    done = cli.run("--config", str(cfg), "status", "-f", "json", env=env)
    assert str(cli.connection) in json.loads(done.stdout)
    # The same through the fast path, with --config after the command.
    fast = cli.run("system-info", "--config", str(cfg), env=env)
    assert fast.returncode == 0, fast.stderr


def test_default_config_file_is_read(cli: CliSession) -> None:
    xdg = cli.cli.workdir / "config-home"
    cfg = _write(xdg / "distant" / "config.toml", f'[client]\nunix_socket = "{cli.socket}"\n')
    try:
        env = {"DISTANT_UNIX_SOCKET": ""}
        slow = cli.run("status", "-f", "json", env=env)
        assert str(cli.connection) in json.loads(slow.stdout)
        fast = cli.run("version", "-f", "json", env=env)  # the fast path reads it too
        assert fast.returncode == 0, fast.stderr
    finally:
        cfg.unlink()


def test_connect_options_from_config(cli: CliSession, tmp_path: Path) -> None:
    from tests.cli.test_admin import _server_credentials

    proc, url = _server_credentials(cli)
    try:
        key, _, hostport = url.removeprefix("distant://:").partition("@")
        cfg = _write(tmp_path / "cfg.toml", f'[client.connect]\noptions = "key={key}"\n')
        done = cli.run("--config", str(cfg), "connect", "--new", f"distant://{hostport}",
                       "--cache", str(tmp_path / "cache.toml"))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Provide a key" not in done.stderr
        cli.run("kill", done.stdout.strip(), "--cache", str(tmp_path / "cache.toml"))
    finally:
        proc.kill()
        proc.wait()


def test_manager_access_from_config(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "cfg.toml", '[manager]\naccess = "group"\n')
    manager = ManagerProcess(tmp_path / "m")
    manager.start("--config", str(cfg))
    try:
        mode = stat.S_IMODE(os.stat(manager.socket).st_mode)
        assert mode == 0o660
        cli = Cli(manager.socket, tmp_path / "cache.toml", tmp_path)
        assert cli.run("status").returncode == 0
    finally:
        manager.stop()


def test_bad_config_file_fails_cleanly(cli: CliSession, tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.toml", "not = [toml\n")
    for args in (["status"], ["system-info"]):
        done = cli.run("--config", str(bad), *args)
        assert done.returncode == 1
        assert done.stderr.startswith("error: bad config file")
