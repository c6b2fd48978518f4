"""The client's ClientAuthenticator state machine and the synchronous handlers."""

from __future__ import annotations

import pytest

from distant_auth import (
    STATIC_KEY_CHALLENGE,
    AuthenticationFailed,
    AuthHandler,
    BaseAuthHandler,
    ClientAuthenticator,
    ClientState,
    DummyHandler,
    Finished,
    LocalProtocolError,
    NoneHandler,
    Notice,
    PromptHandler,
    RemoteProtocolError,
    ResponseNeeded,
    SecretKey,
    StaticKeyHandler,
    drive,
)
from distant_codec import (
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
    Question,
    VerificationKind,
)

KEY = SecretKey(bytes(range(32)))
INIT = AuthInitialization(methods=("static_key", "none"))
CHALLENGE = STATIC_KEY_CHALLENGE
VERIFY = AuthVerification(kind=VerificationKind.HOST, text="fingerprint")
FATAL = AuthError(kind=AuthErrorKind.FATAL, text="go away")
NON_FATAL = AuthError(kind=AuthErrorKind.ERROR, text="try again")


def state_of(auth: ClientAuthenticator) -> ClientState:
    return auth.state  # a call, so that mypy does not narrow the property across steps


# --- events ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "response"),
    [
        (INIT, AuthInitializationResponse(methods=("none",))),
        (CHALLENGE, AuthChallengeResponse(answers=("x",))),
        (VERIFY, AuthVerificationResponse(valid=False)),
    ],
)
def test_requests_need_a_matching_response(
    request_: AuthInitialization | AuthChallenge | AuthVerification,
    response: AuthenticationResponse,
) -> None:
    auth = ClientAuthenticator()
    assert state_of(auth) is ClientState.WAITING
    assert auth.receive(request_) == ResponseNeeded(request_)
    assert state_of(auth) is ClientState.RESPONDING
    assert auth.pending == request_
    assert auth.respond(response) is response
    assert state_of(auth) is ClientState.WAITING
    assert auth.pending is None


@pytest.mark.parametrize(
    ("request_", "wrong"),
    [
        (INIT, AuthChallengeResponse(answers=())),
        (CHALLENGE, AuthVerificationResponse(valid=True)),
        (VERIFY, AuthInitializationResponse(methods=())),
    ],
)
def test_a_mismatched_response_is_a_local_error(
    request_: AuthInitialization | AuthChallenge | AuthVerification,
    wrong: AuthenticationResponse,
) -> None:
    auth = ClientAuthenticator()
    auth.receive(request_)
    with pytest.raises(LocalProtocolError, match="must be answered with"):
        auth.respond(wrong)
    assert auth.state is ClientState.RESPONDING  # still owed


def test_responding_with_nothing_pending_is_a_local_error() -> None:
    auth = ClientAuthenticator()
    with pytest.raises(LocalProtocolError):
        auth.respond(AuthInitializationResponse(methods=()))
    auth.receive(INIT)
    auth.respond(AuthInitializationResponse(methods=()))
    with pytest.raises(LocalProtocolError):
        auth.respond(AuthInitializationResponse(methods=()))


def test_the_server_must_wait_for_our_response() -> None:
    auth = ClientAuthenticator()
    auth.receive(CHALLENGE)
    with pytest.raises(RemoteProtocolError, match="before we answered"):
        auth.receive(AuthInfo(text="hurry"))


def test_notices_and_finished() -> None:
    auth = ClientAuthenticator()
    assert auth.receive(INIT) == ResponseNeeded(INIT)
    assert auth.offered_methods == ("static_key", "none")
    auth.respond(AuthInitializationResponse(methods=("none",)))
    start = AuthStartMethod(method="none")
    assert auth.receive(start) == Notice(start)
    assert auth.method == "none"
    info = AuthInfo(text="hi")
    assert auth.receive(info) == Notice(info)
    assert auth.receive(NON_FATAL) == Notice(NON_FATAL)
    assert auth.receive(AuthFinished()) == Finished()
    assert auth.finished and not auth.failed
    with pytest.raises(RemoteProtocolError, match="after auth_finished"):
        auth.receive(AuthInfo(text="late"))


def test_requests_without_initialization_are_allowed() -> None:
    # Relayed dialogues (an ssh plugin behind the manager) start with a challenge.
    auth = ClientAuthenticator()
    auth.receive(VERIFY)
    auth.respond(AuthVerificationResponse(valid=True))
    auth.receive(CHALLENGE)
    auth.respond(AuthChallengeResponse(answers=("pw",)))
    assert auth.state is ClientState.WAITING
    assert auth.offered_methods is None


def test_a_fatal_error_raises_and_ends_the_dialogue() -> None:
    auth = ClientAuthenticator()
    with pytest.raises(AuthenticationFailed, match="go away") as info:
        auth.receive(FATAL)
    assert info.value.error == FATAL
    assert auth.error == FATAL
    assert auth.failed
    assert auth.state is ClientState.FAILED
    with pytest.raises(LocalProtocolError):
        auth.receive(AuthFinished())


def test_non_messages_are_a_local_error() -> None:
    auth = ClientAuthenticator()
    with pytest.raises(LocalProtocolError):
        auth.receive(AuthInitializationResponse(methods=()))  # type: ignore[arg-type]


# --- handlers -------------------------------------------------------------------------


def test_handlers_satisfy_the_protocol() -> None:
    handlers: list[AuthHandler] = [
        StaticKeyHandler(KEY),
        NoneHandler(),
        DummyHandler(),
        PromptHandler(lambda c: [], lambda v: False),
    ]
    for handler in handlers:
        assert isinstance(handler, AuthHandler)


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (("static_key",), ("static_key",)),
        (("none", "static_key"), ("none", "static_key")),
        (("password", "static_key", "none"), ("static_key", "none")),
        (("password",), ()),
        ((), ()),
    ],
)
def test_static_key_handler_initialization(
    offered: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    response = StaticKeyHandler(KEY).on_initialization(AuthInitialization(methods=offered))
    assert response == AuthInitializationResponse(methods=expected)


def test_static_key_handler_answers_key_questions_with_lowercase_hex() -> None:
    key = SecretKey.from_hex(KEY.to_hex().upper())
    handler = StaticKeyHandler(key)
    assert handler.on_challenge(CHALLENGE) == AuthChallengeResponse(answers=(KEY.to_hex(),))
    two = AuthChallenge(questions=CHALLENGE.questions * 2, options={})
    assert handler.on_challenge(two).answers == (KEY.to_hex(), KEY.to_hex())
    assert handler.on_challenge(AuthChallenge(questions=(), options={})).answers == ()


def test_static_key_handler_refuses_other_questions_without_leaking_the_key() -> None:
    handler = StaticKeyHandler(KEY)
    challenge = AuthChallenge(
        questions=(Question("key", "k", {}), Question("password", "p", {})), options={}
    )
    with pytest.raises(AuthenticationFailed, match="'password'") as info:
        handler.on_challenge(challenge)
    assert KEY.to_hex() not in str(info.value)
    assert KEY.to_hex() not in repr(handler)


def test_static_key_handler_refuses_verification() -> None:
    with pytest.raises(AuthenticationFailed, match="verification"):
        StaticKeyHandler(KEY).on_verification(VERIFY)


def test_static_key_handler_needs_a_secret_key() -> None:
    with pytest.raises(TypeError):
        StaticKeyHandler(KEY.to_hex())  # type: ignore[arg-type]


def test_none_and_dummy_handlers() -> None:
    assert NoneHandler().on_initialization(INIT).methods == ("none",)
    assert NoneHandler().on_initialization(AuthInitialization(methods=("x",))).methods == ()
    assert DummyHandler().on_initialization(INIT).methods == INIT.methods
    for handler in (NoneHandler(), DummyHandler()):
        with pytest.raises(AuthenticationFailed):
            handler.on_challenge(CHALLENGE)
        with pytest.raises(AuthenticationFailed):
            handler.on_verification(VERIFY)
        handler.on_info(AuthInfo(text="x"))
        handler.on_error(NON_FATAL)
        handler.on_start_method(AuthStartMethod(method="none"))
        handler.on_finished()


def test_prompt_handler_delegates() -> None:
    seen: list[object] = []
    handler = PromptHandler(
        lambda c: [q.label.upper() for q in c.questions],
        lambda v: v.text == "fingerprint",
        on_info=seen.append,
        on_error=seen.append,
        on_initialization=lambda i: reversed(i.methods),
    )
    assert handler.on_challenge(CHALLENGE).answers == ("KEY",)
    assert handler.on_verification(VERIFY).valid is True
    assert handler.on_initialization(INIT).methods == ("none", "static_key")
    handler.on_info(AuthInfo(text="i"))
    handler.on_error(NON_FATAL)
    assert seen == [AuthInfo(text="i"), NON_FATAL]
    plain = PromptHandler(lambda c: ["a"], lambda v: False)
    assert plain.on_initialization(INIT).methods == INIT.methods
    assert plain.on_verification(VERIFY).valid is False
    plain.on_info(AuthInfo(text="ignored"))
    plain.on_error(NON_FATAL)


def test_prompt_handler_refuses_a_bare_string() -> None:
    handler = PromptHandler(lambda c: "secret", lambda v: True)  # a str is a Sequence[str]
    with pytest.raises(TypeError):
        handler.on_challenge(CHALLENGE)


# --- drive ----------------------------------------------------------------------------


class Recording(BaseAuthHandler):
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        self.calls.append(("initialization", msg))
        return super().on_initialization(msg)

    def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        self.calls.append(("challenge", msg))
        return AuthChallengeResponse(answers=("a",) * len(msg.questions))

    def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        self.calls.append(("verification", msg))
        return AuthVerificationResponse(valid=True)

    def on_info(self, msg: AuthInfo) -> None:
        self.calls.append(("info", msg))

    def on_error(self, msg: AuthError) -> None:
        self.calls.append(("error", msg))

    def on_start_method(self, msg: AuthStartMethod) -> None:
        self.calls.append(("start_method", msg))

    def on_finished(self) -> None:
        self.calls.append(("finished", None))


def test_drive_dispatches_every_message() -> None:
    auth, handler = ClientAuthenticator(), Recording()
    script: list[tuple[Authentication, AuthenticationResponse | None]] = [
        (INIT, AuthInitializationResponse(methods=INIT.methods)),
        (AuthStartMethod(method="static_key"), None),
        (AuthInfo(text="i"), None),
        (CHALLENGE, AuthChallengeResponse(answers=("a",))),
        (VERIFY, AuthVerificationResponse(valid=True)),
        (NON_FATAL, None),
        (AuthFinished(), None),
    ]
    for msg, expected in script:
        assert drive(auth, handler, msg) == expected
    assert [name for name, _ in handler.calls] == [
        "initialization", "start_method", "info", "challenge", "verification", "error",
        "finished",
    ]  # fmt: skip
    assert auth.finished


def test_drive_shows_a_fatal_error_to_the_handler_then_raises() -> None:
    auth, handler = ClientAuthenticator(), Recording()
    with pytest.raises(AuthenticationFailed):
        drive(auth, handler, FATAL)
    assert handler.calls == [("error", FATAL)]
    assert auth.failed


def test_drive_lets_handler_failures_through() -> None:
    auth = ClientAuthenticator()
    with pytest.raises(AuthenticationFailed):
        drive(auth, StaticKeyHandler(KEY), VERIFY)
    assert auth.pending == VERIFY  # nothing was sent; the caller closes the connection


def test_drive_catches_a_handler_returning_the_wrong_type() -> None:
    class Confused(BaseAuthHandler):
        def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
            return AuthVerificationResponse(valid=True)  # type: ignore[return-value]

    with pytest.raises(LocalProtocolError):
        drive(ClientAuthenticator(), Confused(), CHALLENGE)
