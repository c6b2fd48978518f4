# ruff: noqa: ASYNC221 - key generation for the test set-up is instant
"""The asyncssh backend's connect: host keys checked against known_hosts (unknown ones asked,
changed ones refused), key passphrases relayed as challenges, clear errors; and the session
on both anyio backends (trio through trio-asyncio, and plain asyncio)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.support.sshd import PrivateSshd

from distant_codec import (
    VerificationKind,
)
from distant_manager import PluginError
from distant_plugins.ssh.asyncssh_backend import open_asyncssh_session
from distant_plugins.ssh.bridge import asyncio_loop
from distant_plugins.ssh.session import SshTarget

from ._auth import Answers

pytestmark = pytest.mark.anyio


def target(sshd: PrivateSshd, **changes: Any) -> SshTarget:
    fields: dict[str, Any] = {
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "identity_files": (str(sshd.client_key),),
        "identities_only": True,
        "user_known_hosts_files": (str(sshd.known_hosts),),
        "connect_timeout": 10.0,
    }
    fields.update(changes)
    return SshTarget(**fields)


async def test_known_host_connects_without_prompts_and_runs(
    private_sshd: PrivateSshd, anyio_backend: str
) -> None:
    answers = Answers()
    async with asyncio_loop():
        session = await open_asyncssh_session(target(private_sshd), answers)
        try:
            assert session.backend == "asyncssh" and not session.closed
            assert await session.run("echo $((6*7))") == (0, b"42\n", b"")
            assert (await session.stat("/")).kind == "dir"
        finally:
            await session.aclose()
        assert session.closed
    assert answers.verifications == [] and answers.challenges == []


async def test_unknown_host_key_is_asked_and_remembered_once_accepted(
    private_sshd: PrivateSshd, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    answers = Answers(accept_host=True)
    async with asyncio_loop():
        session = await open_asyncssh_session(
            target(private_sshd, user_known_hosts_files=(str(known),)), answers
        )
        await session.aclose()
        assert len(answers.verifications) == 1
        asked = answers.verifications[0]
        assert asked.kind == VerificationKind.HOST
        assert f"[{private_sshd.host}]:{private_sshd.port}" in asked.text
        fingerprint = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(private_sshd.host_key) + ".pub"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[1]
        assert fingerprint in asked.text
        assert known.read_text().startswith(
            f"[{private_sshd.host}]:{private_sshd.port} ssh-ed25519 "
        )
        again = Answers()
        session = await open_asyncssh_session(
            target(private_sshd, user_known_hosts_files=(str(known),)), again
        )
        await session.aclose()
        assert again.verifications == []


async def test_refused_host_key_fails_clearly(private_sshd: PrivateSshd, tmp_path: Path) -> None:
    answers = Answers(accept_host=False)
    async with asyncio_loop():
        with pytest.raises(PluginError, match="host key verification failed"):
            await open_asyncssh_session(
                target(private_sshd, user_known_hosts_files=(str(tmp_path / "none"),)), answers
            )
    assert len(answers.verifications) == 1
    assert not (tmp_path / "none").exists()


async def test_changed_host_key_is_an_error_without_asking(
    private_sshd: PrivateSshd, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "known_hosts"
    pub = (tmp_path / "other.pub").read_text().split()
    known.write_text(f"[{private_sshd.host}]:{private_sshd.port} {pub[0]} {pub[1]}\n")
    answers = Answers(accept_host=True)
    async with asyncio_loop():
        with pytest.raises(PluginError, match="HAS CHANGED"):
            await open_asyncssh_session(
                target(private_sshd, user_known_hosts_files=(str(known),)), answers
            )
    assert answers.verifications == []


async def test_wrong_key_is_permission_denied(private_sshd: PrivateSshd, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    async with asyncio_loop():
        with pytest.raises(PluginError, match="permission denied"):
            await open_asyncssh_session(
                target(private_sshd, identity_files=(str(other),)), Answers()
            )


async def test_encrypted_key_passphrase_is_a_challenge(
    private_sshd: PrivateSshd, tmp_path: Path
) -> None:
    import asyncssh

    # The same key as the sshd expects, encrypted (PKCS#8: OpenSSH's own format needs bcrypt).
    locked = tmp_path / "locked"
    key = asyncssh.read_private_key(str(private_sshd.client_key))
    locked.write_bytes(key.export_private_key("pkcs8-pem", passphrase="s3cret"))
    answers = Answers(secret="s3cret")
    async with asyncio_loop():
        session = await open_asyncssh_session(
            target(private_sshd, identity_files=(str(locked),)), answers
        )
        await session.aclose()
    assert len(answers.challenges) == 1
    question = answers.challenges[0].questions[0]
    assert str(locked) in question.text and question.options["echo"] == "false"
    wrong = Answers(secret="nope")
    async with asyncio_loop():
        with pytest.raises(PluginError, match="permission denied"):
            await open_asyncssh_session(target(private_sshd, identity_files=(str(locked),)), wrong)


async def test_connection_refused_is_one_clear_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with asyncio_loop():
        with pytest.raises(PluginError, match="connection refused") as info:
            await open_asyncssh_session(SshTarget(host="127.0.0.1", port=port), Answers())
    assert "\n" not in str(info.value)


async def test_reverse_forward_and_tcp(private_sshd: PrivateSshd) -> None:
    import anyio
    import anyio.abc

    got: list[tuple[bytes, str]] = []

    async def on_connection(stream: anyio.abc.ByteStream, host: str, port: int) -> None:
        got.append((await stream.receive(), host))
        await stream.send(b"pong")

    async with asyncio_loop():
        session = await open_asyncssh_session(target(private_sshd), Answers())
        try:
            forward = await session.listen_tcp("127.0.0.1", 0, on_connection)
            assert forward.port > 0
            channel = await session.open_tcp("127.0.0.1", forward.port)
            await channel.send(b"ping")
            assert await channel.receive() == b"pong"
            with pytest.raises(anyio.EndOfStream):
                await channel.receive()
            await channel.aclose()
            await forward.aclose()
            assert got == [(b"ping", "127.0.0.1")]
        finally:
            await session.aclose()
