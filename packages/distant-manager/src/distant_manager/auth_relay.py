"""The auth relay of §9.4: a plugin's authentication prompts go to the CLI that asked for
the launch/connect, as ``authenticate{id, msg}`` replies to that request; the answers come
back as ``authenticate{id, msg}`` requests, matched by ``id``."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from distant_auth import SecretKey
from distant_codec import (
    AuthChallenge,
    AuthChallengeResponse,
    AuthError,
    AuthFinished,
    AuthInfo,
    AuthInitialization,
    AuthInitializationResponse,
    AuthStartMethod,
    AuthVerification,
    AuthVerificationResponse,
)
from distant_codec import manager_responses as mresp
from distant_net import AsyncAuthHandler

from .plugin import PluginError

__all__ = ["AuthWaiters", "RelayAuthHandler", "KeyAuthHandler"]

T = TypeVar("T")

DEFAULT_ANSWER_TIMEOUT = 600.0
"""How long a relayed prompt waits for the user's answer."""


class AuthWaiters:
    """Prompts waiting for an answer, by relay id (manager-wide)."""

    def __init__(self) -> None:
        self._slots: dict[int, tuple[anyio.Event, list[Any]]] = {}

    def new_id(self) -> int:
        while True:
            candidate = secrets.randbits(32)
            if candidate not in self._slots:
                return candidate

    def open(self, relay_id: int) -> None:
        self._slots[relay_id] = (anyio.Event(), [])

    def answer(self, relay_id: int, msg: Any) -> bool:
        """Deliver an answer; False if nobody waits for ``relay_id``."""
        slot = self._slots.get(relay_id)
        if slot is None or slot[0].is_set():
            return False
        slot[1].append(msg)
        slot[0].set()
        return True

    async def wait(self, relay_id: int, timeout: float) -> Any:
        event, box = self._slots[relay_id]
        try:
            with anyio.fail_after(timeout):
                await event.wait()
        except TimeoutError:
            raise PluginError(f"no answer to the authentication prompt in {timeout:g} s") from None
        finally:
            self._slots.pop(relay_id, None)
        return box[0]


Send = Callable[[mresp.Authenticate], Awaitable[None]]


class RelayAuthHandler:
    """An AsyncAuthHandler that asks the user at the other end of the manager socket."""

    def __init__(
        self, send: Send, waiters: AuthWaiters, *, timeout: float = DEFAULT_ANSWER_TIMEOUT
    ) -> None:
        self._send = send
        self._waiters = waiters
        self._timeout = timeout

    async def _ask(self, msg: Any, expected: type[T]) -> T:
        relay_id = self._waiters.new_id()
        self._waiters.open(relay_id)
        await self._send(mresp.Authenticate(relay_id, msg))
        answer = await self._waiters.wait(relay_id, self._timeout)
        if not isinstance(answer, expected):
            raise PluginError(
                f"expected {expected.__name__} in answer to {type(msg).__name__}, "
                f"got {type(answer).__name__}"
            )
        return answer

    async def _tell(self, msg: Any) -> None:
        await self._send(mresp.Authenticate(self._waiters.new_id(), msg))

    async def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        return await self._ask(msg, AuthInitializationResponse)

    async def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        return await self._ask(msg, AuthChallengeResponse)

    async def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        return await self._ask(msg, AuthVerificationResponse)

    async def on_info(self, msg: AuthInfo) -> None:
        await self._tell(msg)

    async def on_error(self, msg: AuthError) -> None:
        await self._tell(msg)

    async def on_start_method(self, msg: AuthStartMethod) -> None:
        await self._tell(msg)

    async def on_finished(self) -> None:
        await self._tell(AuthFinished())


class KeyAuthHandler:
    """Answers the ``static_key`` dialogue itself with a known key (a ``distant://`` key in
    the destination or ``key=`` in the options, §8.2); everything else goes to ``other``
    (the relay to the user)."""

    def __init__(self, key: SecretKey, other: AsyncAuthHandler) -> None:
        self._key = key
        self._other = other

    async def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        return AuthInitializationResponse(tuple(msg.methods))

    async def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        return AuthChallengeResponse(tuple(self._key.expose().hex() for _ in msg.questions))

    async def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        return await self._other.on_verification(msg)

    async def on_info(self, msg: AuthInfo) -> None:
        await self._other.on_info(msg)

    async def on_error(self, msg: AuthError) -> None:
        await self._other.on_error(msg)

    async def on_start_method(self, msg: AuthStartMethod) -> None:
        await self._other.on_start_method(msg)

    async def on_finished(self) -> None:
        await self._other.on_finished()
