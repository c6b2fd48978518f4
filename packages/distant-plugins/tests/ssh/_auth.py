"""Auth handlers for the ssh tests (the manager relays to the user what these answer)."""

from __future__ import annotations

from typing import Any

from distant_codec import (
    AuthChallenge,
    AuthChallengeResponse,
    AuthVerification,
    AuthVerificationResponse,
)


class NoPrompts:
    """Keys and known_hosts are given: any prompt is a test failure."""

    async def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        raise AssertionError(f"unexpected host key prompt: {msg}")

    async def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        raise AssertionError(f"unexpected challenge: {msg}")

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


class Answers(NoPrompts):
    """Records every prompt; accepts host keys when ``accept_host``; answers each question of
    a challenge with ``secret`` (no answers when it is ``None``: the user gave up)."""

    def __init__(self, *, accept_host: bool = True, secret: str | None = None) -> None:
        self.accept_host = accept_host
        self.secret = secret
        self.verifications: list[AuthVerification] = []
        self.challenges: list[AuthChallenge] = []

    async def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        self.verifications.append(msg)
        return AuthVerificationResponse(valid=self.accept_host)

    async def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        self.challenges.append(msg)
        if self.secret is None:
            return AuthChallengeResponse(answers=())
        return AuthChallengeResponse(answers=tuple(self.secret for _ in msg.questions))
