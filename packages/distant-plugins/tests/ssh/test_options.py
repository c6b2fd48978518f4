"""The ssh plugin's ``--options``: prefixes, backends, booleans, file lists, launch settings."""

from __future__ import annotations

import os

import pytest

from distant_codec import Destination
from distant_manager import PluginError
from distant_plugins.ssh.options import (
    DEFAULT_LAUNCH_TIMEOUT,
    LaunchSettings,
    SshOptions,
    build_target,
    parse_bool,
    parse_launch_settings,
    parse_ssh_options,
)


def test_defaults() -> None:
    opts = parse_ssh_options({})
    assert opts == SshOptions()
    assert opts.backend == "asyncssh"
    assert not opts.tunnel
    assert parse_launch_settings({}) == LaunchSettings(
        bin=None, bind_server="ssh", args="", timeout=DEFAULT_LAUNCH_TIMEOUT
    )


@pytest.mark.parametrize("prefix", ["", "ssh."])
def test_every_ssh_option_with_and_without_prefix(prefix: str) -> None:
    opts = parse_ssh_options(
        {
            f"{prefix}backend": "openssh",
            f"{prefix}identity_files": "/k/one, ~/two,,",
            f"{prefix}identities_only": "yes",
            f"{prefix}proxy_command": "nc %h %p",
            f"{prefix}user_known_hosts_files": "/kh/a,/kh/b",
            f"{prefix}verbose": "TRUE",
            f"{prefix}tunnel": "1",
        }
    )
    assert opts.backend == "openssh"
    assert opts.identity_files == ("/k/one", os.path.expanduser("~/two"))
    assert opts.identities_only is True
    assert opts.proxy_command == "nc %h %p"
    assert opts.user_known_hosts_files == ("/kh/a", "/kh/b")
    assert opts.verbose is True
    assert opts.tunnel is True
    assert opts.extra == {}


def test_prefixed_spelling_wins_over_plain() -> None:
    assert parse_ssh_options({"ssh.verbose": "no", "verbose": "yes"}).verbose is False
    assert parse_ssh_options({"verbose": "yes", "ssh.verbose": "no"}).verbose is False


@pytest.mark.parametrize("alias", ["ssh2", "libssh", "LIBSSH"])
def test_seed_backend_names_map_to_asyncssh_with_a_note(alias: str) -> None:
    opts = parse_ssh_options({"backend": alias})
    assert opts.backend == "asyncssh"
    assert len(opts.notes) == 1
    assert alias.lower() in opts.notes[0]
    assert "asyncssh" in opts.notes[0]


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(PluginError, match=r"ssh\.backend.*'putty'.*asyncssh, openssh"):
        parse_ssh_options({"ssh.backend": "putty"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("Yes", True), ("1", True), (" false ", False), ("NO", False), ("0", False)],
)
def test_booleans(text: str, expected: bool) -> None:
    assert parse_bool("k", text) is expected
    assert parse_ssh_options({"identities_only": text}).identities_only is expected


@pytest.mark.parametrize("text", ["maybe", "", "2", "on"])
def test_bad_boolean_names_the_key(text: str) -> None:
    with pytest.raises(PluginError, match=r"ssh\.verbose: expected true/false/yes/no/1/0"):
        parse_ssh_options({"verbose": text})


def test_unknown_keys_go_to_extra_but_launch_and_distant_keys_do_not() -> None:
    opts = parse_ssh_options(
        {
            "ssh.ServerAliveInterval": "5",
            "Compression": "yes",
            "distant.bin": "/opt/distant",
            "distant.args": "--log-level trace",
            "timeout": "100",
            "key": "abc",
        }
    )
    assert opts.extra == {"ServerAliveInterval": "5", "Compression": "yes"}


def test_launch_settings() -> None:
    settings = parse_launch_settings(
        {
            "distant.bin": " /opt/distant ",
            "distant.bind_server": "ANY",
            "distant.args": "--log-level trace",
            "timeout": "2500",
        }
    )
    assert settings == LaunchSettings(
        bin="/opt/distant", bind_server="any", args="--log-level trace", timeout=2.5
    )
    assert parse_launch_settings({"distant.bind_server": "10.1.2.3"}).bind_server == "10.1.2.3"
    assert parse_launch_settings({"distant.bind_server": "[::1]"}).bind_server == "::1"
    assert parse_launch_settings({"distant.bind_server": ""}).bind_server == "ssh"


@pytest.mark.parametrize("bind", ["example.com", "10.0.0.300", "local"])
def test_bad_bind_server(bind: str) -> None:
    with pytest.raises(PluginError, match=r"distant\.bind_server: expected ssh, any or an IP"):
        parse_launch_settings({"distant.bind_server": bind})


@pytest.mark.parametrize("timeout", ["soon", "-5", "0", "inf", "nan"])
def test_bad_timeout(timeout: str) -> None:
    with pytest.raises(PluginError, match=r"option timeout: expected a positive number"):
        parse_launch_settings({"timeout": timeout})


def test_target_from_destination_and_options() -> None:
    opts = parse_ssh_options(
        {"identity_files": "/k", "user_known_hosts_files": "/kh", "ControlPersist": "no"}
    )
    target = build_target(Destination.parse("ssh://alice@example.com:2222"), opts)
    assert (target.host, target.port, target.user) == ("example.com", 2222, "alice")
    assert target.identity_files == ("/k",)
    assert target.user_known_hosts_files == ("/kh",)
    assert target.extra == {"ControlPersist": "no"}
    # Unset user and port are left to the backend (ssh config, local user, 22).
    bare = build_target(Destination.parse("ssh://[::1]"), opts, connect_timeout=3.0)
    assert (bare.host, bare.port, bare.user, bare.connect_timeout) == ("::1", None, None, 3.0)
