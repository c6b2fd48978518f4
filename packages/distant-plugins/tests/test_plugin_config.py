"""Registering external plugins: plugins.toml, [manager.plugins] and --plugin flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from distant_plugins.external import SETUP_TIMEOUT, ExternalPlugin
from distant_plugins.plugin_config import (
    PluginConfigError,
    build_external_plugins,
    load_plugin_specs,
    parse_plugin_flag,
    plugins_toml_path,
    read_plugins_toml,
)

SCRIPT = str(Path(__file__).parent / "external_plugins" / "testplugin.py")
SHELL = str(Path(__file__).parent / "external_plugins" / "connect_only.sh")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_plugins_toml_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert plugins_toml_path() == str(tmp_path / "xdg" / "distant" / "plugins.toml")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert plugins_toml_path() == str(tmp_path / "home" / ".config" / "distant" / "plugins.toml")
    config = tmp_path / "etc" / "config.toml"
    assert plugins_toml_path(str(config)) == str(tmp_path / "etc" / "plugins.toml")


def test_reads_the_specification_example(tmp_path: Path) -> None:
    path = write(
        tmp_path / "plugins.toml",
        f'[plugins.docker]\npath = "{SCRIPT}"\n\n'
        f'[plugins.ftp]\npath = "{SHELL}"\nschemes = ["ftp", "SFTP"]\nsetup_timeout = 2.5\n',
    )
    specs = read_plugins_toml(str(path))
    assert specs["docker"].schemes == ("docker",)  # defaults to the name
    assert specs["docker"].setup_timeout == SETUP_TIMEOUT == 120.0
    assert specs["ftp"].schemes == ("ftp", "SFTP")
    assert specs["ftp"].setup_timeout == 2.5
    docker, ftp = build_external_plugins(specs.values())
    assert isinstance(ftp, ExternalPlugin)
    assert (ftp.name, ftp.path, ftp.schemes, ftp.setup_timeout) == (
        "ftp",
        SHELL,
        ("ftp", "sftp"),
        2.5,
    )
    assert (docker.name, docker.path) == ("docker", SCRIPT)


def test_a_missing_file_registers_nothing(tmp_path: Path) -> None:
    assert read_plugins_toml(str(tmp_path / "none.toml")) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[plugins.x]\npath = "relative/bin"\n', "must be absolute"),
        ("[plugins.x]\nschemes = ['x']\n", "'path' (a string) is required"),
        ('[plugins.x]\npath = "/no/such/plugin"\n', "/no/such/plugin does not exist"),
        ('[plugins.x]\npath = "/etc"\n', "is not an executable file"),
        (f'[plugins.x]\npath = "{SCRIPT}"\nschemes = "x"\n', "'schemes' must be a list"),
        (f'[plugins.x]\npath = "{SCRIPT}"\nschemes = []\n', "'schemes' is empty"),
        (f'[plugins.x]\npath = "{SCRIPT}"\nschemes = ["no/slash"]\n', "not a valid scheme"),
        (f'[plugins.x]\npath = "{SCRIPT}"\nsetup_timeout = 0\n', "must be a positive number"),
        (f'[plugins.x]\npath = "{SCRIPT}"\ncolour = "red"\n', "unknown key(s) colour"),
        ("[other]\n", "unknown top-level key(s) other"),
        ("plugins = 3\n", "'plugins' must be a table"),
        ("[plugins.x\n", "bad TOML"),
    ],
)
def test_bad_entries_are_clear_errors(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path / "plugins.toml", body)
    with pytest.raises(PluginConfigError) as info:
        read_plugins_toml(str(path))
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_plugin_flag(f"x={SCRIPT}") == ("x", SCRIPT)
    monkeypatch.chdir(Path(SCRIPT).parent)
    assert parse_plugin_flag("x=testplugin.py") == ("x", SCRIPT)  # made absolute
    for bad in ("x", "=/bin/true", "x=", " = "):
        with pytest.raises(PluginConfigError, match="expected NAME=PATH"):
            parse_plugin_flag(bad)


def test_merging_file_config_and_flags(tmp_path: Path) -> None:
    config = write(tmp_path / "conf" / "config.toml", "")
    write(
        tmp_path / "conf" / "plugins.toml",
        f'[plugins.a]\npath = "{SHELL}"\nschemes = ["a1", "a2"]\n[plugins.b]\npath = "{SHELL}"\n',
    )
    specs = load_plugin_specs(
        str(config), [f"a={SCRIPT}", f"c={SCRIPT}"], {"b": SCRIPT, "d": {"path": SHELL}}
    )
    by_name = {s.name: s for s in specs}
    assert set(by_name) == {"a", "b", "c", "d"}
    assert (by_name["a"].path, by_name["a"].schemes) == (SCRIPT, ("a1", "a2"))  # flag wins
    assert by_name["b"].path == SCRIPT  # config.toml's [manager.plugins] over plugins.toml
    assert (by_name["c"].path, by_name["c"].schemes) == (SCRIPT, ("c",))
    assert by_name["d"].path == SHELL


def test_flags_are_checked(tmp_path: Path) -> None:
    config = str(tmp_path / "config.toml")
    with pytest.raises(PluginConfigError, match="--plugin x=/no/such: plugin 'x': /no/such does"):
        load_plugin_specs(config, ["x=/no/such"])


def test_a_scheme_claimed_twice_is_an_error(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", "")
    write(tmp_path / "plugins.toml", f'[plugins.a]\npath = "{SHELL}"\nschemes = ["b"]\n')
    with pytest.raises(
        PluginConfigError, match="scheme 'b' is claimed by both plugins 'a' and 'b'"
    ):
        load_plugin_specs(str(config), [f"b={SCRIPT}"])
