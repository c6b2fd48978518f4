"""The server side of the authentication dialogue (PROTOCOL.md §4.3) as a state machine.

::

    v = Verifier([StaticKeyMethod(key)])
    send(v.start())                      # [auth_initialization]
    while not (v.succeeded or v.failed):
        send(v.receive(read_response())) # zero or more messages each time
    if v.failed:
        close_connection()               # upstream sends no auth_error (§4.3, §15.7)

States::

    IDLE --start()--> AWAITING_INITIALIZATION_RESPONSE --receive(init_response)-->
        RUNNING_METHOD <--receive(challenge/verification response)--> RUNNING_METHOD
        any of these --> SUCCEEDED | FAILED

Methods are tried in the client's order; names the server does not know are skipped
silently, and each method is tried at most once even if the client lists it twice (Rust
would run it again; deduplicating only denies a client extra guesses on one connection).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

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

from .errors import LocalProtocolError, RemoteProtocolError
from .methods import (
    AuthMethod,
    MethodOutcome,
    MethodSession,
    MethodStep,
    NoneMethod,
    StaticKeyMethod,
)
from .secret import SecretKey

__all__ = ["Verifier", "VerifierState"]

_RESPONSES = (AuthInitializationResponse, AuthChallengeResponse, AuthVerificationResponse)


class VerifierState(enum.Enum):
    IDLE = "idle"
    """Created; call :meth:`Verifier.start`."""
    AWAITING_INITIALIZATION_RESPONSE = "awaiting_initialization_response"
    RUNNING_METHOD = "running_method"
    """A method asked something and waits for the client's answer."""
    SUCCEEDED = "succeeded"
    """``auth_finished`` has been queued; authentication is done."""
    FAILED = "failed"
    """No method succeeded; close the connection without sending anything."""


def _tag(msg: object) -> str:
    tag = getattr(type(msg), "TAG", None)
    return tag if isinstance(tag, str) else type(msg).__name__


def _has_fatal(step: MethodStep) -> bool:
    return any(isinstance(m, AuthError) and m.kind is AuthErrorKind.FATAL for m in step.messages)


class Verifier:
    """Runs the server's half of one connection's authentication.

    ``methods`` are offered in the given order in ``auth_initialization``; names must be
    unique. The methods themselves are not mutated, so one list can serve every
    connection (make one ``Verifier`` per connection).
    """

    __slots__ = (
        "_by_name",
        "_expected",
        "_failure_reason",
        "_methods",
        "_queue",
        "_reasons",
        "_running",
        "_session",
        "_state",
        "_succeeded_method",
    )

    def __init__(self, methods: Sequence[AuthMethod]) -> None:
        self._methods = tuple(methods)
        self._by_name: dict[str, AuthMethod] = {}
        for method in self._methods:
            if method.name in self._by_name:
                raise ValueError(f"duplicate authentication method {method.name!r}")
            self._by_name[method.name] = method
        self._state = VerifierState.IDLE
        self._queue: list[AuthMethod] = []
        self._running: AuthMethod | None = None
        self._session: MethodSession | None = None
        self._expected: type[AuthChallengeResponse | AuthVerificationResponse] | None = None
        self._succeeded_method: str | None = None
        self._failure_reason: str | None = None
        self._reasons: list[str] = []

    @classmethod
    def none(cls) -> Verifier:
        """Only the ``none`` method, as the manager's socket uses."""
        return cls([NoneMethod()])

    @classmethod
    def static_key(cls, key: SecretKey) -> Verifier:
        """Only ``static_key``, as ``distant server listen`` uses."""
        return cls([StaticKeyMethod(key)])

    # --------------------------------------------------------------------------------
    # introspection

    @property
    def state(self) -> VerifierState:
        return self._state

    @property
    def succeeded(self) -> bool:
        return self._state is VerifierState.SUCCEEDED

    @property
    def failed(self) -> bool:
        return self._state is VerifierState.FAILED

    @property
    def method(self) -> str | None:
        """The name of the method that succeeded, or ``None``."""
        return self._succeeded_method

    @property
    def running_method(self) -> str | None:
        """The name of the method waiting for an answer, if any."""
        return None if self._running is None else self._running.name

    @property
    def methods(self) -> tuple[str, ...]:
        """The names offered to the client, in order."""
        return tuple(m.name for m in self._methods)

    @property
    def failure_reason(self) -> str | None:
        """Why verification failed (for the server's own logs; contains no secret)."""
        return self._failure_reason

    def __repr__(self) -> str:
        return f"Verifier(methods={list(self.methods)!r}, state={self._state.name})"

    # --------------------------------------------------------------------------------
    # driving

    def start(self) -> list[Authentication]:
        """The opening message: ``auth_initialization`` with our method names."""
        if self._state is not VerifierState.IDLE:
            raise LocalProtocolError("Verifier.start() can only be called once")
        self._state = VerifierState.AWAITING_INITIALIZATION_RESPONSE
        return [AuthInitialization(methods=self.methods)]

    def receive(self, msg: AuthenticationResponse) -> list[Authentication]:
        """Feed one client response; returns the messages to send, in order.

        Raises :class:`RemoteProtocolError` for a response the current state does not
        expect, and :class:`LocalProtocolError` when called before :meth:`start`, after
        failure, or with something that is not an ``AuthenticationResponse``.
        """
        if not isinstance(msg, _RESPONSES):
            raise LocalProtocolError(
                f"Verifier.receive() takes an AuthenticationResponse, not {_tag(msg)}"
            )
        state = self._state
        if state is VerifierState.IDLE:
            raise LocalProtocolError("call Verifier.start() before receive()")
        if state is VerifierState.FAILED:
            raise LocalProtocolError(
                "verification already failed; the connection should have been closed"
            )
        if state is VerifierState.SUCCEEDED:
            raise RemoteProtocolError(f"client sent {_tag(msg)} after authentication finished")
        if state is VerifierState.AWAITING_INITIALIZATION_RESPONSE:
            if not isinstance(msg, AuthInitializationResponse):
                raise RemoteProtocolError(f"expected auth_initialization_response, got {_tag(msg)}")
            self._queue = self._select(msg.methods)
            if not self._queue:
                self._reasons.append("the client requested no method this server supports")
            return self._advance([])
        # RUNNING_METHOD: a method asked something; only its answer is acceptable.
        expected = self._expected
        session = self._session
        assert expected is not None and session is not None
        if not isinstance(msg, expected):
            raise RemoteProtocolError(f"expected {expected.TAG}, got {_tag(msg)}")
        self._expected = None
        try:
            step = session.receive(msg)
        except Exception:
            self._abort()
            raise
        out: list[Authentication] = []
        if self._handle(step, out):
            return out
        return self._advance(out)

    # --------------------------------------------------------------------------------
    # internals

    def _select(self, requested: Sequence[str]) -> list[AuthMethod]:
        seen: set[str] = set()
        chosen: list[AuthMethod] = []
        for name in requested:
            method = self._by_name.get(name)
            if method is not None and name not in seen:
                seen.add(name)
                chosen.append(method)
        return chosen

    def _advance(self, out: list[Authentication]) -> list[Authentication]:
        """Start queued methods until one waits for an answer, one succeeds, or none is
        left."""
        while self._queue:
            method = self._queue.pop(0)
            self._running = method
            self._session = method.session()
            out.append(AuthStartMethod(method=method.name))
            try:
                step = self._session.start()
            except Exception:
                self._abort()
                raise
            if self._handle(step, out):
                return out
        return self._fail(out)

    def _handle(self, step: MethodStep, out: list[Authentication]) -> bool:
        """Queue the step's messages; True if the dialogue stops here for now (waiting,
        succeeded, or failed for good), False to fall through to the next method."""
        method = self._running
        assert method is not None
        try:
            self._check_step(method.name, step)
        except LocalProtocolError:
            self._abort()
            raise
        out.extend(step.messages)
        if step.outcome is MethodOutcome.PENDING:
            last = step.messages[-1]
            self._expected = (
                AuthChallengeResponse if isinstance(last, AuthChallenge)
                else AuthVerificationResponse
            )  # fmt: skip
            self._state = VerifierState.RUNNING_METHOD
            return True
        self._running = None
        self._session = None
        if step.outcome is MethodOutcome.SUCCEEDED:
            out.append(AuthFinished())
            self._succeeded_method = method.name
            self._state = VerifierState.SUCCEEDED
            return True
        self._reasons.append(step.reason or f"{method.name}: failed")
        if _has_fatal(step):
            self._queue.clear()  # the client aborts on a fatal error; stop here
            self._fail(out)
            return True
        return False

    @staticmethod
    def _check_step(name: str, step: MethodStep) -> None:
        """Reject steps that would desynchronise the dialogue: a bug in the method."""
        if not isinstance(step, MethodStep):
            raise LocalProtocolError(f"method {name!r} returned {type(step).__name__}")
        requests = [
            i for i, m in enumerate(step.messages)
            if isinstance(m, AuthChallenge | AuthVerification)
        ]  # fmt: skip
        for m in step.messages:
            if not isinstance(m, AuthChallenge | AuthVerification | AuthInfo | AuthError):
                raise LocalProtocolError(f"method {name!r} may not send {_tag(m)}")
        if step.outcome is MethodOutcome.PENDING:
            if requests != [len(step.messages) - 1]:
                raise LocalProtocolError(
                    f"method {name!r}: a pending step must end with exactly one "
                    "challenge or verification"
                )
        elif requests:
            raise LocalProtocolError(
                f"method {name!r}: a finished step cannot ask the client anything"
            )
        if _has_fatal(step) and step.outcome is not MethodOutcome.FAILED:
            raise LocalProtocolError(f"method {name!r}: a fatal error must fail the method")

    def _abort(self) -> None:
        """A method raised (the peer's fault or a bug): give up on the whole dialogue."""
        self._queue.clear()
        self._reasons.append(f"{self.running_method or 'a method'} raised an error")
        self._fail([])

    def _fail(self, out: list[Authentication]) -> list[Authentication]:
        self._state = VerifierState.FAILED
        self._running = None
        self._session = None
        self._failure_reason = (
            "no authentication method succeeded: " + "; ".join(self._reasons)
            if self._reasons
            else "no authentication method succeeded"
        )
        return out
