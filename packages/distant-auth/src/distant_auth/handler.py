"""Synchronous callbacks on top of :class:`~distant_auth.client.ClientAuthenticator`.

An :class:`AuthHandler` answers requests and observes notices, like Rust's
``AuthHandler``; :func:`drive` feeds one server message through an authenticator and a
handler and returns the response to send, if any. This suits blocking callers such as the
CLI on the manager socket. Async callers should use the authenticator's events directly.

Handlers signal that they cannot (or will not) answer by raising
:class:`AuthenticationFailed`; the caller then closes the connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from distant_codec.authentication import (
    AuthChallenge,
    AuthChallengeResponse,
    Authentication,
    AuthenticationResponse,
    AuthError,
    AuthInfo,
    AuthInitialization,
    AuthInitializationResponse,
    AuthStartMethod,
    AuthVerification,
    AuthVerificationResponse,
)

from .client import ClientAuthenticator, Finished, Notice, ResponseNeeded
from .errors import AuthenticationFailed
from .methods import NONE, STATIC_KEY, STATIC_KEY_LABEL
from .secret import SecretKey

__all__ = [
    "AuthHandler",
    "BaseAuthHandler",
    "DummyHandler",
    "NoneHandler",
    "StaticKeyHandler",
    "PromptHandler",
    "drive",
]


@runtime_checkable
class AuthHandler(Protocol):
    """Answers the server's requests and observes its notices."""

    def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse: ...

    def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse: ...

    def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse: ...

    def on_info(self, msg: AuthInfo) -> None: ...

    def on_error(self, msg: AuthError) -> None:
        """Called for every ``auth_error``, including a fatal one just before
        :func:`drive` raises :class:`AuthenticationFailed`."""
        ...

    def on_start_method(self, msg: AuthStartMethod) -> None: ...

    def on_finished(self) -> None: ...


def drive(
    authenticator: ClientAuthenticator, handler: AuthHandler, msg: Authentication
) -> AuthenticationResponse | None:
    """Feed ``msg`` to ``authenticator``, let ``handler`` react, and return the response
    to send (``None`` for one-way messages).

    A fatal ``auth_error`` is shown to ``handler.on_error`` and then re-raised as
    :class:`AuthenticationFailed`, as the Rust client does.
    """
    try:
        event = authenticator.receive(msg)
    except AuthenticationFailed as exc:
        if exc.error is not None:
            handler.on_error(exc.error)
        raise
    if isinstance(event, ResponseNeeded):
        request = event.request
        response: AuthenticationResponse
        if isinstance(request, AuthInitialization):
            response = handler.on_initialization(request)
        elif isinstance(request, AuthChallenge):
            response = handler.on_challenge(request)
        else:
            response = handler.on_verification(request)
        return authenticator.respond(response)
    if isinstance(event, Notice):
        notice = event.msg
        if isinstance(notice, AuthStartMethod):
            handler.on_start_method(notice)
        elif isinstance(notice, AuthInfo):
            handler.on_info(notice)
        else:
            handler.on_error(notice)
        return None
    assert isinstance(event, Finished)
    handler.on_finished()
    return None


class BaseAuthHandler:
    """Defaults for every callback: accept all offered methods, refuse challenges and
    verifications, ignore notices. Subclass and override what you need."""

    __slots__ = ()

    def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        return AuthInitializationResponse(methods=msg.methods)

    def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        raise AuthenticationFailed(f"{type(self).__name__} cannot answer an auth challenge")

    def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        raise AuthenticationFailed(
            f"{type(self).__name__} cannot answer a {msg.kind.value} verification"
        )

    def on_info(self, msg: AuthInfo) -> None:
        return None

    def on_error(self, msg: AuthError) -> None:
        return None

    def on_start_method(self, msg: AuthStartMethod) -> None:
        return None

    def on_finished(self) -> None:
        return None


class DummyHandler(BaseAuthHandler):
    """Asks for every method the server offers and can answer nothing (Rust's
    ``DummyAuthHandler``): enough for a server whose methods need no answer."""


class NoneHandler(BaseAuthHandler):
    """Asks only for ``none`` (if offered), as a client of the manager socket does."""

    def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        return AuthInitializationResponse(methods=tuple(m for m in msg.methods if m == NONE))


class StaticKeyHandler(BaseAuthHandler):
    """Answers ``static_key`` challenges with ``key`` as lowercase hex.

    Initialization: keeps ``static_key`` and ``none`` from the server's list, in the
    server's order. Challenge: every question must be labelled ``key``; any other label
    raises :class:`AuthenticationFailed` (as Rust errors). Verification: raises
    :class:`AuthenticationFailed`; a key alone cannot vouch for a host (Rust's simple
    static-key handler approves every verification instead; we refuse to approve blindly).
    """

    __slots__ = ("_key",)

    def __init__(self, key: SecretKey) -> None:
        if not isinstance(key, SecretKey):
            raise TypeError("StaticKeyHandler needs a SecretKey")
        self._key = key

    def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        wanted = (STATIC_KEY, NONE)
        return AuthInitializationResponse(methods=tuple(m for m in msg.methods if m in wanted))

    def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        for question in msg.questions:
            if question.label != STATIC_KEY_LABEL:
                raise AuthenticationFailed(
                    f"the static key handler only answers questions labelled "
                    f"{STATIC_KEY_LABEL!r}, not {question.label!r}"
                )
        answer = self._key.to_hex()
        return AuthChallengeResponse(answers=tuple(answer for _ in msg.questions))

    def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        raise AuthenticationFailed(
            f"the static key handler cannot answer a {msg.kind.value} verification"
        )

    def __repr__(self) -> str:
        return "StaticKeyHandler(<key redacted>)"


class PromptHandler(BaseAuthHandler):
    """Delegates to callbacks, e.g. terminal prompts in the CLI.

    ``on_challenge`` returns one answer per question; ``on_verify`` returns whether to
    accept. ``on_initialization`` picks methods from the offered list (default: all of
    them). ``on_info`` and ``on_error`` default to ignoring the message.
    """

    def __init__(
        self,
        on_challenge: Callable[[AuthChallenge], Sequence[str]],
        on_verify: Callable[[AuthVerification], bool],
        *,
        on_info: Callable[[AuthInfo], None] | None = None,
        on_error: Callable[[AuthError], None] | None = None,
        on_initialization: Callable[[AuthInitialization], Iterable[str]] | None = None,
    ) -> None:
        self._challenge = on_challenge
        self._verify = on_verify
        self._info = on_info
        self._error = on_error
        self._initialization = on_initialization

    def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        if self._initialization is None:
            return super().on_initialization(msg)
        return AuthInitializationResponse(methods=tuple(self._initialization(msg)))

    def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        answers = self._challenge(msg)
        if isinstance(answers, str):  # a bare str would silently become one answer per char
            raise TypeError("on_challenge must return a sequence of answers, not a str")
        return AuthChallengeResponse(answers=tuple(answers))

    def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        return AuthVerificationResponse(valid=bool(self._verify(msg)))

    def on_info(self, msg: AuthInfo) -> None:
        if self._info is not None:
            self._info(msg)

    def on_error(self, msg: AuthError) -> None:
        if self._error is not None:
            self._error(msg)
