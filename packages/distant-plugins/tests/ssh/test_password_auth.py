"""Password logins on both ssh backends: the password prompt is relayed to the user as a
challenge (echo off), a right answer logs in, a wrong one is a clear refusal. Against a
private sshd that allows passwords, for a throwaway account with a known password."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from tests.support.sshd import PrivateSshd, SshdUnavailable, ensure_user

from distant_manager import PluginError
from distant_plugins.ssh.asyncssh_backend import open_asyncssh_session
from distant_plugins.ssh.bridge import asyncio_loop
from distant_plugins.ssh.openssh_backend import open_openssh_session
from distant_plugins.ssh.session import SessionOpener, SshTarget

from ._auth import Answers

pytestmark = pytest.mark.anyio

USER = "distant-pw"
PASSWORD = "correct horse 42"
OPENERS: dict[str, SessionOpener] = {
    "asyncssh": open_asyncssh_session,
    "openssh": open_openssh_session,
}


@pytest.fixture(scope="module")
def password_sshd() -> Iterator[PrivateSshd]:
    try:
        user = ensure_user(USER)
        subprocess.run(["chpasswd"], input=f"{user}:{PASSWORD}\n", text=True, check=True)
        sshd = PrivateSshd(
            user=user, extra_config=[f"Match User {user}", "  PasswordAuthentication yes"]
        )
        sshd.start()
    except (SshdUnavailable, FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs root, sshd and chpasswd: {exc}")
    try:
        yield sshd
    finally:
        sshd.stop()


def _target(sshd: PrivateSshd) -> SshTarget:
    return SshTarget(
        host=sshd.host,
        port=sshd.port,
        user=sshd.user,
        identities_only=True,  # no keys: the password is the only way in
        user_known_hosts_files=(str(sshd.known_hosts),),
        connect_timeout=20.0,
        extra={"config_file": "/dev/null"},  # the openssh backend: no user config
    )


@pytest.fixture
def anyio_backend() -> str:
    return "trio"  # the manager's backend


@pytest.mark.parametrize("backend", sorted(OPENERS))
async def test_password_is_relayed_as_a_secret_challenge(
    password_sshd: PrivateSshd, backend: str
) -> None:
    answers = Answers(secret=PASSWORD)
    async with asyncio_loop():
        session = await OPENERS[backend](_target(password_sshd), answers)
        try:
            code, out, _ = await session.run("id -un")
        finally:
            await session.aclose()
    assert (code, out.strip()) == (0, USER.encode())
    assert answers.challenges, "the password was never asked"
    assert not answers.verifications, "the host key is known: it must not be asked"
    question = answers.challenges[0].questions[0]
    assert "password" in question.text.lower()
    assert question.options.get("echo") == "false"


@pytest.mark.parametrize("backend", sorted(OPENERS))
async def test_wrong_password_is_refused_clearly(password_sshd: PrivateSshd, backend: str) -> None:
    answers = Answers(secret="not it")
    async with asyncio_loop():
        with pytest.raises(PluginError) as refused:
            session = await OPENERS[backend](_target(password_sshd), answers)
            await session.aclose()
    text = str(refused.value).lower()
    # ssh asks again after a wrong password, as sshd allows; either way it ends refused.
    assert "permission denied" in text or "authentication failures" in text, text
    assert "\n" not in str(refused.value)
    assert answers.challenges
