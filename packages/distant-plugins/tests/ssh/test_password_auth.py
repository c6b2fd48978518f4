"""Password logins on both ssh backends: the password prompt is relayed to the user as a
challenge (echo off), a right answer logs in, a wrong one is a clear refusal. Against a
private sshd that allows passwords, for a throwaway account with a known password."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.sshd import PrivateSshd, SshdUnavailable, ensure_user

from distant_codec import AuthChallenge, AuthChallengeResponse, AuthVerificationResponse
from distant_manager import PluginError
from distant_plugins.ssh.asyncssh_backend import open_asyncssh_session
from distant_plugins.ssh.bridge import asyncio_loop
from distant_plugins.ssh.openssh_backend import open_openssh_session
from distant_plugins.ssh.session import SessionOpener, SshTarget

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


class PasswordAnswers:
    """Answers every challenge with ``password``; host keys are known (not asked)."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.challenges: list[AuthChallenge] = []

    async def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        self.challenges.append(msg)
        return AuthChallengeResponse(answers=tuple(self.password for _ in msg.questions))

    async def on_verification(self, msg: Any) -> AuthVerificationResponse:
        raise AssertionError(f"the host key is known, yet it was asked: {msg}")

    async def on_initialization(self, msg: Any) -> Any:
        raise AssertionError("not used by ssh")

    async def on_info(self, msg: Any) -> None:
        pass

    async def on_error(self, msg: Any) -> None:
        pass

    async def on_start_method(self, msg: Any) -> None:
        pass

    async def on_finished(self) -> None:
        pass


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
    answers = PasswordAnswers(PASSWORD)
    async with asyncio_loop():
        session = await OPENERS[backend](_target(password_sshd), answers)
        try:
            code, out, _ = await session.run("id -un")
        finally:
            await session.aclose()
    assert (code, out.strip()) == (0, USER.encode())
    assert answers.challenges, "the password was never asked"
    question = answers.challenges[0].questions[0]
    assert "password" in question.text.lower()
    assert question.options.get("echo") == "false"


@pytest.mark.parametrize("backend", sorted(OPENERS))
async def test_wrong_password_is_refused_clearly(password_sshd: PrivateSshd, backend: str) -> None:
    answers = PasswordAnswers("not it")
    async with asyncio_loop():
        with pytest.raises(PluginError) as refused:
            session = await OPENERS[backend](_target(password_sshd), answers)
            await session.aclose()
    text = str(refused.value).lower()
    # ssh asks again after a wrong password, as sshd allows; either way it ends refused.
    assert "permission denied" in text or "authentication failures" in text, text
    assert "\n" not in str(refused.value)
    assert answers.challenges
