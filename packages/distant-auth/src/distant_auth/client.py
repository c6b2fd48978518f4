"""The client side of the authentication dialogue (PROTOCOL.md §4) as a state machine.

:class:`ClientAuthenticator` turns each server message into an event::

    auth = ClientAuthenticator()
    while not auth.finished:
        event = auth.receive(read_message())      # may raise AuthenticationFailed
        if isinstance(event, ResponseNeeded):
            send(auth.respond(answer_for(event.request)))

It is deliberately I/O- and callback-free so that async callers (distant-net, the
manager's auth relay) can await a user's answer between :meth:`~ClientAuthenticator.receive`
and :meth:`~ClientAuthenticator.respond`. For a synchronous callback style see
:mod:`distant_auth.handler`.

Ordering is enforced only where the protocol is unambiguous: a request (initialization,
challenge, verification) must be answered before the next server message, nothing may
follow ``auth_finished``, and a fatal ``auth_error`` ends the dialogue. The order of
requests themselves is not checked, because relayed dialogues (an ssh plugin behind the
manager) ask challenges and verifications without any ``auth_initialization`` and may end
without ``auth_finished``. The Rust client is equally permissive.

A fatal ``auth_error`` makes :meth:`~ClientAuthenticator.receive` raise
:class:`AuthenticationFailed` with the message attached as ``.error`` (it is also kept in
:attr:`ClientAuthenticator.error`); raising rather than returning a notice means a caller
cannot carry on by mistake.
"""

from __future__ import annotations

import enum

from distant_codec.authentication import (
    AuthChallenge,
    AuthChallengeResponse,
    Authentication,
    AuthenticationResponse,
    AuthError,
    AuthErrorKind,
    AuthFinished,
    AuthInfo,
    AuthInitialization,
    AuthInitializationResponse,
    AuthStartMethod,
    AuthVerification,
    AuthVerificationResponse,
)
from distant_codec.schema import struct

from .errors import AuthenticationFailed, LocalProtocolError, RemoteProtocolError

__all__ = [
    "ClientAuthenticator",
    "ClientState",
    "ClientEvent",
    "ResponseNeeded",
    "Notice",
    "Finished",
    "AuthRequest",
    "AuthNotice",
]

AuthRequest = AuthInitialization | AuthChallenge | AuthVerification
"""Server messages that need exactly one response."""

AuthNotice = AuthStartMethod | AuthInfo | AuthError
"""One-way server messages (an ``AuthError`` here is never fatal)."""

_RESPONSE_FOR: dict[type, type] = {
    AuthInitialization: AuthInitializationResponse,
    AuthChallenge: AuthChallengeResponse,
    AuthVerification: AuthVerificationResponse,
}


@struct
class ResponseNeeded:
    """Answer ``request`` with :meth:`ClientAuthenticator.respond` before reading on."""

    request: AuthRequest


@struct
class Notice:
    """A one-way message: the method being started, information, or a non-fatal error."""

    msg: AuthNotice


@struct
class Finished:
    """``auth_finished``: authentication succeeded."""


ClientEvent = ResponseNeeded | Notice | Finished


class ClientState(enum.Enum):
    WAITING = "waiting"
    """Waiting for the server's next message."""
    RESPONDING = "responding"
    """A request is pending; :meth:`ClientAuthenticator.respond` must be called next."""
    FINISHED = "finished"
    FAILED = "failed"


def _tag_of(cls: type) -> str:
    """The wire ``type`` of a message class, for error messages (never its contents)."""
    tag = getattr(cls, "TAG", None)
    return tag if isinstance(tag, str) else cls.__name__


def _tag(msg: object) -> str:
    return _tag_of(type(msg))


class ClientAuthenticator:
    """Tracks one authentication dialogue from the client's side."""

    __slots__ = ("_error", "_method", "_offered", "_pending", "_state")

    def __init__(self) -> None:
        self._state = ClientState.WAITING
        self._pending: AuthRequest | None = None
        self._method: str | None = None
        self._offered: tuple[str, ...] | None = None
        self._error: AuthError | None = None

    # --------------------------------------------------------------------------------
    # introspection

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def finished(self) -> bool:
        return self._state is ClientState.FINISHED

    @property
    def failed(self) -> bool:
        return self._state is ClientState.FAILED

    @property
    def pending(self) -> AuthRequest | None:
        """The request awaiting our response, if any."""
        return self._pending

    @property
    def method(self) -> str | None:
        """The method named by the latest ``auth_start_method``."""
        return self._method

    @property
    def offered_methods(self) -> tuple[str, ...] | None:
        """The methods of the latest ``auth_initialization``, if one was received."""
        return self._offered

    @property
    def error(self) -> AuthError | None:
        """The fatal ``auth_error`` that ended the dialogue, if that is what happened."""
        return self._error

    def __repr__(self) -> str:
        return f"ClientAuthenticator(state={self._state.name}, method={self._method!r})"

    # --------------------------------------------------------------------------------
    # driving

    def receive(self, msg: Authentication) -> ClientEvent:
        """Feed one server message and learn what it means.

        Raises :class:`RemoteProtocolError` if the server speaks while we owe it a
        response or after ``auth_finished``; :class:`AuthenticationFailed` on a fatal
        ``auth_error``; :class:`LocalProtocolError` if called after that failure or with
        something that is not an ``Authentication`` message.
        """
        state = self._state
        if state is ClientState.FAILED:
            raise LocalProtocolError("authentication has failed; stop reading auth messages")
        if not isinstance(
            msg,
            AuthInitialization | AuthStartMethod | AuthChallenge | AuthVerification
            | AuthInfo | AuthError | AuthFinished,
        ):  # fmt: skip
            raise LocalProtocolError(
                f"ClientAuthenticator.receive() takes an Authentication message, not {_tag(msg)}"
            )
        if state is ClientState.FINISHED:
            raise RemoteProtocolError(f"server sent {_tag(msg)} after auth_finished")
        if state is ClientState.RESPONDING:
            assert self._pending is not None
            raise RemoteProtocolError(
                f"server sent {_tag(msg)} before we answered its {_tag(self._pending)}"
            )
        if isinstance(msg, AuthInitialization | AuthChallenge | AuthVerification):
            if isinstance(msg, AuthInitialization):
                self._offered = msg.methods
            self._pending = msg
            self._state = ClientState.RESPONDING
            return ResponseNeeded(msg)
        if isinstance(msg, AuthStartMethod):
            self._method = msg.method
            return Notice(msg)
        if isinstance(msg, AuthInfo):
            return Notice(msg)
        if isinstance(msg, AuthError):
            if msg.kind is AuthErrorKind.FATAL:
                self._state = ClientState.FAILED
                self._error = msg
                raise AuthenticationFailed(
                    f"the server reported a fatal authentication error: {msg.text}", error=msg
                )
            return Notice(msg)
        self._state = ClientState.FINISHED
        return Finished()

    def respond(self, response: AuthenticationResponse) -> AuthenticationResponse:
        """Check ``response`` against the pending request and return it, ready to send.

        Raises :class:`LocalProtocolError` if nothing is pending or the type does not
        match (an ``auth_challenge`` needs an ``auth_challenge_response``, and so on).
        The contents are not checked: upstream passes answers through as given.
        """
        pending = self._pending
        if self._state is not ClientState.RESPONDING or pending is None:
            raise LocalProtocolError(f"no request is pending; cannot send {_tag(response)}")
        expected = _RESPONSE_FOR[type(pending)]
        if type(response) is not expected:
            raise LocalProtocolError(
                f"{_tag(pending)} must be answered with {_tag_of(expected)}, not {_tag(response)}"
            )
        self._pending = None
        self._state = ClientState.WAITING
        return response
