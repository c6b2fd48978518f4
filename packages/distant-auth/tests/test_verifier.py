"""The server's Verifier state machine (§4.3) and its methods (§4.4)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from distant_auth import (
    STATIC_KEY_CHALLENGE,
    AuthMethod,
    LocalProtocolError,
    MethodResponse,
    MethodSession,
    MethodStep,
    NoneMethod,
    RemoteProtocolError,
    SecretKey,
    StaticKeyMethod,
    Verifier,
    VerifierState,
)
from distant_codec import (
    AuthChallenge,
    AuthChallengeResponse,
    AuthError,
    AuthErrorKind,
    AuthFinished,
    AuthInfo,
    AuthInitialization,
    AuthInitializationResponse,
    AuthStartMethod,
    AuthVerification,
    AuthVerificationResponse,
    Question,
    VerificationKind,
)

KEY = SecretKey(bytes(range(32)))
WRONG = SecretKey(bytes(32))


def init_response(*methods: str) -> AuthInitializationResponse:
    return AuthInitializationResponse(methods=methods)


def answers(*texts: str) -> AuthChallengeResponse:
    return AuthChallengeResponse(answers=texts)


def state_of(verifier: Verifier) -> VerifierState:
    return verifier.state  # a call, so that mypy does not narrow the property across steps


def test_start_offers_methods_in_server_order() -> None:
    verifier = Verifier([StaticKeyMethod(KEY), NoneMethod()])
    assert state_of(verifier) is VerifierState.IDLE
    assert verifier.start() == [AuthInitialization(methods=("static_key", "none"))]
    assert state_of(verifier) is VerifierState.AWAITING_INITIALIZATION_RESPONSE
    assert verifier.methods == ("static_key", "none")


def test_start_only_once_and_receive_only_after_start() -> None:
    verifier = Verifier.none()
    with pytest.raises(LocalProtocolError):
        verifier.receive(init_response("none"))
    verifier.start()
    with pytest.raises(LocalProtocolError):
        verifier.start()


def test_none_succeeds_immediately() -> None:
    verifier = Verifier.none()
    verifier.start()
    out = verifier.receive(init_response("none"))
    assert out == [AuthStartMethod(method="none"), AuthFinished()]
    assert verifier.succeeded and not verifier.failed
    assert verifier.state is VerifierState.SUCCEEDED
    assert verifier.method == "none"
    assert verifier.failure_reason is None


@pytest.mark.parametrize("text", [KEY.to_hex(), KEY.to_hex().upper()])
def test_static_key_with_the_right_key(text: str) -> None:
    verifier = Verifier.static_key(KEY)
    verifier.start()
    out = verifier.receive(init_response("static_key"))
    assert out == [AuthStartMethod(method="static_key"), STATIC_KEY_CHALLENGE]
    assert out[1] == AuthChallenge(
        questions=(Question(label="key", text="Provide a key: ", options={}),), options={}
    )
    assert verifier.state is VerifierState.RUNNING_METHOD
    assert verifier.running_method == "static_key"
    assert verifier.receive(answers(text)) == [AuthFinished()]
    assert verifier.succeeded
    assert verifier.method == "static_key"
    assert verifier.running_method is None


def test_only_the_first_answer_counts() -> None:
    verifier = Verifier.static_key(KEY)
    verifier.start()
    verifier.receive(init_response("static_key"))
    assert verifier.receive(answers(KEY.to_hex(), "junk")) == [AuthFinished()]

    verifier = Verifier.static_key(KEY)
    verifier.start()
    verifier.receive(init_response("static_key"))
    assert verifier.receive(answers("junk", KEY.to_hex())) == []
    assert verifier.failed


@pytest.mark.parametrize(
    "reply",
    [
        answers(WRONG.to_hex()),
        answers(),
        answers(""),
        answers(KEY.to_hex()[:-1]),
        answers(KEY.to_hex() + "0"),
        answers(" " + KEY.to_hex()),
        answers("0x" + KEY.to_hex()[2:]),
        answers(KEY.to_hex()[:-1] + "g"),
        answers(KEY.expose().decode("latin-1")),
    ],
)
def test_static_key_failures_send_nothing(reply: AuthChallengeResponse) -> None:
    verifier = Verifier.static_key(KEY)
    verifier.start()
    verifier.receive(init_response("static_key"))
    assert verifier.receive(reply) == []
    assert verifier.failed and not verifier.succeeded
    assert verifier.method is None
    reason = verifier.failure_reason
    assert reason is not None and "static_key" in reason
    assert KEY.to_hex() not in reason
    assert WRONG.to_hex() not in reason


def test_fall_through_to_the_next_method() -> None:
    verifier = Verifier([StaticKeyMethod(KEY), NoneMethod()])
    verifier.start()
    assert verifier.receive(init_response("static_key", "none")) == [
        AuthStartMethod(method="static_key"),
        STATIC_KEY_CHALLENGE,
    ]
    assert verifier.receive(answers(WRONG.to_hex())) == [
        AuthStartMethod(method="none"),
        AuthFinished(),
    ]
    assert verifier.method == "none"


def test_client_order_wins_over_server_order() -> None:
    verifier = Verifier([StaticKeyMethod(KEY), NoneMethod()])
    verifier.start()
    out = verifier.receive(init_response("none", "static_key"))
    assert out == [AuthStartMethod(method="none"), AuthFinished()]


def test_unknown_names_are_skipped_silently() -> None:
    verifier = Verifier.none()
    verifier.start()
    out = verifier.receive(init_response("password", "publickey", "none"))
    assert out == [AuthStartMethod(method="none"), AuthFinished()]


@pytest.mark.parametrize("requested", [(), ("password",), ("static_key",), ("", "NONE")])
def test_no_usable_method_fails_without_sending_anything(requested: tuple[str, ...]) -> None:
    verifier = Verifier.none()
    verifier.start()
    assert verifier.receive(init_response(*requested)) == []
    assert verifier.failed
    assert verifier.failure_reason is not None
    assert "no method this server supports" in verifier.failure_reason


def test_a_method_listed_twice_is_tried_once() -> None:
    verifier = Verifier.static_key(KEY)
    verifier.start()
    verifier.receive(init_response("static_key", "static_key"))
    assert verifier.receive(answers(WRONG.to_hex())) == []
    assert verifier.failed


def test_a_verifier_with_no_methods_always_fails() -> None:
    verifier = Verifier([])
    assert verifier.start() == [AuthInitialization(methods=())]
    assert verifier.receive(init_response("none")) == []
    assert verifier.failed


def test_duplicate_method_names_are_refused() -> None:
    with pytest.raises(ValueError):
        Verifier([NoneMethod(), NoneMethod()])


@pytest.mark.parametrize(
    "msg",
    [answers("x"), AuthVerificationResponse(valid=True)],
)
def test_wrong_response_before_initialization_response(msg: MethodResponse) -> None:
    verifier = Verifier.none()
    verifier.start()
    with pytest.raises(RemoteProtocolError, match="auth_initialization_response"):
        verifier.receive(msg)


@pytest.mark.parametrize("msg", [init_response("static_key"), AuthVerificationResponse(valid=True)])
def test_wrong_response_while_a_challenge_is_pending(
    msg: AuthInitializationResponse | AuthVerificationResponse,
) -> None:
    verifier = Verifier.static_key(KEY)
    verifier.start()
    verifier.receive(init_response("static_key"))
    with pytest.raises(RemoteProtocolError, match="auth_challenge_response"):
        verifier.receive(msg)


def test_anything_after_success_is_a_remote_error() -> None:
    verifier = Verifier.none()
    verifier.start()
    verifier.receive(init_response("none"))
    with pytest.raises(RemoteProtocolError):
        verifier.receive(init_response("none"))


def test_feeding_a_failed_verifier_is_a_local_error() -> None:
    verifier = Verifier.none()
    verifier.start()
    verifier.receive(init_response())
    with pytest.raises(LocalProtocolError):
        verifier.receive(init_response("none"))


def test_non_responses_are_a_local_error() -> None:
    verifier = Verifier.none()
    verifier.start()
    with pytest.raises(LocalProtocolError):
        verifier.receive(AuthFinished())  # type: ignore[arg-type]


def test_method_configuration_is_shared_safely_between_connections() -> None:
    methods: list[AuthMethod] = [StaticKeyMethod(KEY), NoneMethod()]
    first, second = Verifier(methods), Verifier(methods)
    first.start()
    second.start()
    first.receive(init_response("static_key"))
    second.receive(init_response("static_key"))
    assert second.receive(answers(KEY.to_hex())) == [AuthFinished()]
    assert first.receive(answers(WRONG.to_hex())) == []
    assert second.succeeded and first.failed


def test_reprs_show_no_key() -> None:
    verifier = Verifier.static_key(KEY)
    assert KEY.to_hex() not in repr(verifier)
    assert KEY.to_hex() not in repr(StaticKeyMethod(KEY))


# --- extensibility: methods written outside the package --------------------------------


class PasswordMethod:
    """A password method in the style upstream may add: info, then a challenge, then a
    host verification; a wrong password sends a non-fatal error and falls through."""

    def __init__(self, password: str) -> None:
        self._password = password

    @property
    def name(self) -> str:
        return "password"

    def session(self) -> MethodSession:
        return _PasswordSession(self._password)


class _PasswordSession:
    def __init__(self, password: str) -> None:
        self._password = password
        self._stage = 0

    def start(self) -> MethodStep:
        return MethodStep.ask(
            AuthInfo(text="welcome"),
            AuthChallenge(questions=(Question("password", "Password: ", {}),), options={}),
        )

    def receive(self, response: MethodResponse) -> MethodStep:
        if self._stage == 0:
            assert isinstance(response, AuthChallengeResponse)
            if response.answers[:1] != (self._password,):
                return MethodStep.fail(
                    "password: wrong", AuthError(kind=AuthErrorKind.ERROR, text="wrong password")
                )
            self._stage = 1
            return MethodStep.ask(AuthVerification(kind=VerificationKind.HOST, text="ok?"))
        assert isinstance(response, AuthVerificationResponse)
        return MethodStep.succeed() if response.valid else MethodStep.fail("password: refused")


def test_a_new_method_plugs_in_without_changing_the_verifier() -> None:
    verifier = Verifier([PasswordMethod("hunter2"), NoneMethod()])
    assert verifier.start() == [AuthInitialization(methods=("password", "none"))]
    out = verifier.receive(init_response("password"))
    assert out[0] == AuthStartMethod(method="password")
    assert isinstance(out[1], AuthInfo) and isinstance(out[2], AuthChallenge)
    assert verifier.receive(answers("hunter2")) == [
        AuthVerification(kind=VerificationKind.HOST, text="ok?")
    ]
    with pytest.raises(RemoteProtocolError):
        verifier.receive(answers("again"))
    assert verifier.receive(AuthVerificationResponse(valid=True)) == [AuthFinished()]
    assert verifier.method == "password"


def test_a_non_fatal_error_falls_through() -> None:
    verifier = Verifier([PasswordMethod("hunter2"), NoneMethod()])
    verifier.start()
    verifier.receive(init_response("password", "none"))
    assert verifier.receive(answers("nope")) == [
        AuthError(kind=AuthErrorKind.ERROR, text="wrong password"),
        AuthStartMethod(method="none"),
        AuthFinished(),
    ]
    assert verifier.method == "none"


class _Scripted:
    """A method whose single step is given; for testing the verifier's step checks."""

    def __init__(self, name: str, step: MethodStep, then: MethodStep | None = None) -> None:
        self._name = name
        self._steps = [step] if then is None else [step, then]

    @property
    def name(self) -> str:
        return self._name

    def session(self) -> MethodSession:
        steps = list(self._steps)

        class Session:
            def start(self) -> MethodStep:
                return steps.pop(0)

            def receive(self, response: MethodResponse) -> MethodStep:
                return steps.pop(0)

        return Session()


def test_a_fatal_error_stops_the_fall_through() -> None:
    fatal = AuthError(kind=AuthErrorKind.FATAL, text="locked out")
    verifier = Verifier([_Scripted("locked", MethodStep.fail("locked", fatal)), NoneMethod()])
    verifier.start()
    out = verifier.receive(init_response("locked", "none"))
    assert out == [AuthStartMethod(method="locked"), fatal]
    assert verifier.failed


CHALLENGE = AuthChallenge(questions=(), options={})


@pytest.mark.parametrize(
    "step",
    [
        MethodStep.ask(),
        MethodStep.ask(AuthInfo(text="no question")),
        MethodStep.ask(CHALLENGE, AuthInfo(text="after the question")),
        MethodStep.ask(CHALLENGE, CHALLENGE),
        MethodStep.succeed(CHALLENGE),
        MethodStep.fail("x", AuthVerification(kind=VerificationKind.HOST, text="?")),
        MethodStep.succeed(AuthFinished()),  # type: ignore[arg-type]
        MethodStep.succeed(AuthStartMethod(method="x")),  # type: ignore[arg-type]
        MethodStep.succeed(AuthError(kind=AuthErrorKind.FATAL, text="x")),
        "not a step",
    ],
)
def test_a_misbehaving_method_is_a_local_error(step: MethodStep) -> None:
    verifier = Verifier([_Scripted("bad", step), NoneMethod()])
    verifier.start()
    with pytest.raises(LocalProtocolError):
        verifier.receive(init_response("bad", "none"))
    assert verifier.failed  # and the dialogue is over; the caller closes the connection


def test_a_method_raising_on_receive_fails_the_verifier() -> None:
    class Raising:
        name = "raising"

        def session(self) -> MethodSession:
            class Session:
                def start(self) -> MethodStep:
                    return MethodStep.ask(CHALLENGE)

                def receive(self, response: MethodResponse) -> MethodStep:
                    raise RemoteProtocolError("bad answer")

            return Session()

    methods: Sequence[Raising | NoneMethod] = [Raising(), NoneMethod()]
    verifier = Verifier(methods)
    verifier.start()
    verifier.receive(init_response("raising", "none"))
    with pytest.raises(RemoteProtocolError):
        verifier.receive(answers())
    assert verifier.failed
