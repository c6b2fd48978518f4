"""Server-side authentication methods (PROTOCOL.md §4.4) as small state machines.

A method is split in two so that one configured server can serve many connections:

* :class:`AuthMethod` is the configuration (a name and, say, the static key). It is
  shared and never mutated.
* :class:`MethodSession` is one run of the method on one connection, created by
  :meth:`AuthMethod.session`. It is fed the client's responses and answers with a
  :class:`MethodStep`: messages to send plus an outcome.

The :class:`~distant_auth.verifier.Verifier` owns the surrounding dialogue
(``auth_initialization``, ``auth_start_method``, ``auth_finished``, fall-through to the
next method), so a new method (password, public key, ...) only implements these two small
protocols and never touches the verifier.
"""

from __future__ import annotations

import enum
from typing import Final, Protocol

from distant_codec.authentication import (
    AuthChallenge,
    AuthChallengeResponse,
    AuthError,
    AuthInfo,
    AuthVerification,
    AuthVerificationResponse,
    Question,
)
from distant_codec.schema import struct

from .errors import LocalProtocolError, RemoteProtocolError
from .secret import SecretKey

__all__ = [
    "MethodOutcome",
    "MethodStep",
    "MethodMessage",
    "MethodResponse",
    "MethodSession",
    "AuthMethod",
    "NoneMethod",
    "StaticKeyMethod",
    "NONE",
    "STATIC_KEY",
    "STATIC_KEY_LABEL",
    "STATIC_KEY_CHALLENGE",
]

NONE: Final = "none"
STATIC_KEY: Final = "static_key"

MethodMessage = AuthChallenge | AuthVerification | AuthInfo | AuthError
"""What a method may send. The verifier sends initialization, start_method and finished."""

MethodResponse = AuthChallengeResponse | AuthVerificationResponse
"""What a method may receive: the answer to its own challenge or verification."""


class MethodOutcome(enum.Enum):
    PENDING = "pending"
    """The last message sent is a challenge or verification; feed the client's answer."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@struct
class MethodStep:
    """One move of a method: messages to send, then where the method stands.

    Rules the verifier enforces (breaking them is a :class:`LocalProtocolError`, a bug in
    the method): a ``PENDING`` step ends with exactly one ``AuthChallenge`` or
    ``AuthVerification`` and contains no other request; a finished step contains no
    request. A fatal ``AuthError`` is allowed only in a ``FAILED`` step and stops the
    whole verification, since the client aborts on it.
    """

    outcome: MethodOutcome
    messages: tuple[MethodMessage, ...] = ()
    reason: str | None = None
    """Why the method failed (for the server's own records; never sent to the client)."""

    @classmethod
    def ask(cls, *messages: MethodMessage) -> MethodStep:
        """Send ``messages`` (ending with a challenge or verification) and wait."""
        return cls(MethodOutcome.PENDING, messages)

    @classmethod
    def succeed(cls, *messages: MethodMessage) -> MethodStep:
        return cls(MethodOutcome.SUCCEEDED, messages)

    @classmethod
    def fail(cls, reason: str, *messages: MethodMessage) -> MethodStep:
        return cls(MethodOutcome.FAILED, messages, reason)


class MethodSession(Protocol):
    """One run of a method on one connection."""

    def start(self) -> MethodStep:
        """Called right after ``auth_start_method`` was queued."""
        ...

    def receive(self, response: MethodResponse) -> MethodStep:
        """The client's answer to the request of the last ``PENDING`` step; the verifier
        has already checked that its type matches."""
        ...


class AuthMethod(Protocol):
    """A configured authentication method, shared by every connection of a server."""

    @property
    def name(self) -> str:
        """The method's id on the wire, e.g. ``"none"`` or ``"static_key"``."""
        ...

    def session(self) -> MethodSession:
        """A fresh run of this method for one connection."""
        ...


# ----------------------------------------------------------------------------------------
# none


class _NoneSession:
    __slots__ = ()

    def start(self) -> MethodStep:
        return MethodStep.succeed()

    def receive(self, response: MethodResponse) -> MethodStep:
        raise LocalProtocolError("the none method never asks anything")


class NoneMethod:
    """``none``: succeeds at once. The manager's local socket uses exactly this."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return NONE

    def session(self) -> MethodSession:
        return _NoneSession()

    def __repr__(self) -> str:
        return "NoneMethod()"


# ----------------------------------------------------------------------------------------
# static_key

STATIC_KEY_LABEL: Final = "key"
STATIC_KEY_CHALLENGE: Final = AuthChallenge(
    questions=(Question(label=STATIC_KEY_LABEL, text="Provide a key: ", options={}),),
    options={},
)


class _StaticKeySession:
    __slots__ = ("_key",)

    def __init__(self, key: SecretKey) -> None:
        self._key = key

    def start(self) -> MethodStep:
        return MethodStep.ask(STATIC_KEY_CHALLENGE)

    def receive(self, response: MethodResponse) -> MethodStep:
        if not isinstance(response, AuthChallengeResponse):
            raise RemoteProtocolError(
                f"static_key expected an auth_challenge_response, got {type(response).__name__}"
            )
        # Like Rust, only the first answer counts, and it must parse as the key type:
        # exactly 64 hex digits. Nothing is sent on failure (§4.4).
        if not response.answers or not response.answers[0]:
            return MethodStep.fail("static_key: the client sent no key")
        try:
            presented = SecretKey.from_hex(response.answers[0], len(self._key))
        except ValueError:
            return MethodStep.fail("static_key: the answer is not a well-formed hex key")
        if presented != self._key:  # constant time
            return MethodStep.fail("static_key: wrong key")
        return MethodStep.succeed()


class StaticKeyMethod:
    """``static_key``: one challenge with one question labelled ``key``; the first answer
    must be the server's key as hex (either case). Failure sends nothing."""

    __slots__ = ("_key",)

    def __init__(self, key: SecretKey) -> None:
        if not isinstance(key, SecretKey):
            raise TypeError("StaticKeyMethod needs a SecretKey")
        self._key = key

    @property
    def name(self) -> str:
        return STATIC_KEY

    def session(self) -> MethodSession:
        return _StaticKeySession(self._key)

    def __repr__(self) -> str:
        return "StaticKeyMethod(<key redacted>)"
