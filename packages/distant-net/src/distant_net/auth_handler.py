"""The client side of authentication as seen by I/O code: an async handler interface.

The sans-IO :class:`distant_auth.ClientAuthenticator` says what is needed; an
:class:`AsyncAuthHandler` provides it, possibly by asking a user or relaying the prompt
through the manager. :class:`SyncHandlerAdapter` lifts any synchronous
:class:`distant_auth.AuthHandler` (static key, none, prompt callbacks) to this interface.
"""

from __future__ import annotations

from typing import Protocol

from distant_auth import AuthHandler
from distant_codec import (
    AuthChallenge,
    AuthChallengeResponse,
    AuthError,
    AuthInfo,
    AuthInitialization,
    AuthInitializationResponse,
    AuthStartMethod,
    AuthVerification,
    AuthVerificationResponse,
)

__all__ = ["AsyncAuthHandler", "SyncHandlerAdapter"]


class AsyncAuthHandler(Protocol):
    async def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse: ...

    async def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse: ...

    async def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse: ...

    async def on_info(self, msg: AuthInfo) -> None: ...

    async def on_error(self, msg: AuthError) -> None: ...

    async def on_start_method(self, msg: AuthStartMethod) -> None: ...

    async def on_finished(self) -> None: ...


class SyncHandlerAdapter:
    """An :class:`AsyncAuthHandler` that calls a synchronous handler inline."""

    def __init__(self, handler: AuthHandler) -> None:
        self.handler = handler

    def __repr__(self) -> str:
        return f"SyncHandlerAdapter({self.handler!r})"

    async def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        return self.handler.on_initialization(msg)

    async def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        return self.handler.on_challenge(msg)

    async def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        return self.handler.on_verification(msg)

    async def on_info(self, msg: AuthInfo) -> None:
        self.handler.on_info(msg)

    async def on_error(self, msg: AuthError) -> None:
        self.handler.on_error(msg)

    async def on_start_method(self, msg: AuthStartMethod) -> None:
        self.handler.on_start_method(msg)

    async def on_finished(self) -> None:
        self.handler.on_finished()
