"""Full Verifier <-> ClientAuthenticator dialogues, in memory, through msgpack bytes."""

from __future__ import annotations

import contextlib
import json
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distant_auth import (
    AuthenticationFailed,
    AuthHandler,
    AuthMethod,
    AuthProtocolError,
    ClientAuthenticator,
    ClientState,
    LocalProtocolError,
    NoneHandler,
    NoneMethod,
    PromptHandler,
    RemoteProtocolError,
    SecretKey,
    StaticKeyHandler,
    StaticKeyMethod,
    Verifier,
    drive,
)
from distant_codec import (
    AUTHENTICATION,
    AUTHENTICATION_RESPONSE,
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
WRONG = SecretKey(bytes(32))
SHARED = Path(os.environ.get("DISTANT_SHARED", Path(__file__).resolve().parents[4] / "shared"))


@dataclass
class Transcript:
    """Every frame that crossed the in-memory link, in order: ("S", bytes) or ("C", bytes)."""

    frames: list[tuple[str, bytes]] = field(default_factory=list)

    def server(self) -> list[bytes]:
        return [b for who, b in self.frames if who == "S"]

    def client(self) -> list[bytes]:
        return [b for who, b in self.frames if who == "C"]

    def json(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for who, data in self.frames:
            if who == "S":
                out.append((who, AUTHENTICATION.to_json(AUTHENTICATION.decode(data))))
            else:
                response = AUTHENTICATION_RESPONSE.decode(data)
                out.append((who, AUTHENTICATION_RESPONSE.to_json(response)))
        return out


def run(verifier: Verifier, handler: AuthHandler) -> tuple[Transcript, ClientAuthenticator]:
    """Play both sides. Each message is encoded to msgpack and decoded on the other side,
    exactly as it would travel in a frame. Stops when the server has nothing more to say
    (success, or a silent failure after which the client would see EOF)."""
    transcript = Transcript()
    client = ClientAuthenticator()
    to_client: deque[bytes] = deque(AUTHENTICATION.encode(m) for m in verifier.start())
    while to_client:
        data = to_client.popleft()
        transcript.frames.append(("S", data))
        response = drive(client, handler, AUTHENTICATION.decode(data))
        if response is None:
            continue
        reply = AUTHENTICATION_RESPONSE.encode(response)
        transcript.frames.append(("C", reply))
        for msg in verifier.receive(AUTHENTICATION_RESPONSE.decode(reply)):
            to_client.append(AUTHENTICATION.encode(msg))
    return transcript, client


def test_none_dialogue_is_byte_exact() -> None:
    verifier = Verifier.none()
    transcript, client = run(verifier, NoneHandler())
    assert transcript.frames == [
        ("S", bytes.fromhex("82 a4") + b"type" + bytes.fromhex("b3") + b"auth_initialization"
         + bytes.fromhex("a7") + b"methods" + bytes.fromhex("91 a4") + b"none"),
        ("C", bytes.fromhex("82 a4") + b"type" + bytes.fromhex("bc")
         + b"auth_initialization_response" + bytes.fromhex("a7") + b"methods"
         + bytes.fromhex("91 a4") + b"none"),
        ("S", bytes.fromhex("82 a4") + b"type" + bytes.fromhex("b1") + b"auth_start_method"
         + bytes.fromhex("a6") + b"method" + bytes.fromhex("a4") + b"none"),
        ("S", bytes.fromhex("81 a4") + b"type" + bytes.fromhex("ad") + b"auth_finished"),
    ]  # fmt: skip
    assert verifier.succeeded and verifier.method == "none"
    assert client.finished


def test_none_dialogue_matches_the_cli_json_vectors() -> None:
    path = SHARED / "spec" / "vectors.json"
    if not path.exists():
        pytest.skip(f"{path} not available")
    vectors = [v for v in json.loads(path.read_text()) if v["kind"] == "cli_auth_jsonl"]
    assert len(vectors) == 4
    transcript, _ = run(Verifier.none(), NoneHandler())
    assert [obj for _, obj in transcript.json()] == [v["json"] for v in vectors]


def test_static_key_dialogue_with_the_right_key() -> None:
    verifier = Verifier.static_key(KEY)
    transcript, client = run(verifier, StaticKeyHandler(KEY))
    # The sequence of §13.
    assert transcript.json() == [
        ("S", {"type": "auth_initialization", "methods": ["static_key"]}),
        ("C", {"type": "auth_initialization_response", "methods": ["static_key"]}),
        ("S", {"type": "auth_start_method", "method": "static_key"}),
        ("S", {"type": "auth_challenge",
               "questions": [{"label": "key", "text": "Provide a key: ", "options": {}}],
               "options": {}}),
        ("C", {"type": "auth_challenge_response", "answers": [KEY.to_hex()]}),
        ("S", {"type": "auth_finished"}),
    ]  # fmt: skip
    assert verifier.succeeded and verifier.method == "static_key"
    assert client.finished


def test_static_key_dialogue_with_a_wrong_key_fails_silently() -> None:
    verifier = Verifier.static_key(KEY)
    transcript, client = run(verifier, StaticKeyHandler(WRONG))
    assert [who for who, _ in transcript.frames] == ["S", "C", "S", "S", "C"]
    assert transcript.json()[-1] == (
        "C",
        {"type": "auth_challenge_response", "answers": [WRONG.to_hex()]},
    )
    # Nothing is sent after the wrong answer: the server just closes the connection.
    assert verifier.failed
    assert not client.finished and client.state is ClientState.WAITING
    assert verifier.failure_reason is not None
    assert KEY.to_hex() not in verifier.failure_reason


def test_method_fall_through() -> None:
    verifier = Verifier([StaticKeyMethod(KEY), NoneMethod()])
    transcript, client = run(verifier, StaticKeyHandler(WRONG))
    assert [obj["type"] for _, obj in transcript.json()] == [
        "auth_initialization",
        "auth_initialization_response",
        "auth_start_method",
        "auth_challenge",
        "auth_challenge_response",
        "auth_start_method",
        "auth_finished",
    ]
    assert transcript.json()[1][1]["methods"] == ["static_key", "none"]
    assert transcript.json()[5][1] == {"type": "auth_start_method", "method": "none"}
    assert verifier.method == "none"
    assert client.finished and client.method == "none"


def test_client_asking_only_for_unknown_methods_fails() -> None:
    verifier = Verifier.static_key(KEY)
    handler = PromptHandler(
        lambda c: pytest.fail("no challenge expected"),
        lambda v: pytest.fail("no verification expected"),
        on_initialization=lambda i: ["password", "publickey"],
    )
    transcript, client = run(verifier, handler)
    assert transcript.json() == [
        ("S", {"type": "auth_initialization", "methods": ["static_key"]}),
        ("C", {"type": "auth_initialization_response", "methods": ["password", "publickey"]}),
    ]
    assert verifier.failed
    assert client.state is ClientState.WAITING


def test_static_key_handler_against_a_none_only_server() -> None:
    verifier = Verifier.none()
    _, client = run(verifier, StaticKeyHandler(KEY))
    assert verifier.method == "none" and client.finished


# --- properties ---------------------------------------------------------------------------

_names = st.sampled_from(["none", "static_key", "password", ""])


@given(
    server=st.lists(st.sampled_from(["none", "static_key"]), unique=True, max_size=2),
    client=st.lists(_names, max_size=5),
    right_key=st.booleans(),
)
def test_outcome_is_the_first_client_method_that_works(
    server: list[str], client: list[str], right_key: bool
) -> None:
    methods: list[AuthMethod] = [
        StaticKeyMethod(KEY) if name == "static_key" else NoneMethod() for name in server
    ]
    verifier = Verifier(methods)
    key = KEY if right_key else WRONG
    handler = PromptHandler(
        lambda c: [key.to_hex()],
        lambda v: True,
        on_initialization=lambda i: client,
    )
    transcript, auth = run(verifier, handler)

    works = {"none": True, "static_key": right_key}
    expected = next((n for n in client if n in server and works[n]), None)
    assert verifier.method == expected
    assert verifier.succeeded == (expected is not None) == auth.finished
    assert verifier.failed == (expected is None)
    tried = [obj["method"] for _, obj in transcript.json() if obj["type"] == "auth_start_method"]
    assert len(tried) == len(set(tried))
    assert all(name in server for name in tried)


_text = st.text(max_size=8)
_str_map = st.dictionaries(_text, _text, max_size=2)
_question = st.builds(Question, label=_text, text=_text, options=_str_map)
_authentication: st.SearchStrategy[Authentication] = st.one_of(
    st.builds(AuthInitialization, methods=st.lists(_names, max_size=3).map(tuple)),
    st.builds(AuthStartMethod, method=_names),
    st.builds(
        AuthChallenge, questions=st.lists(_question, max_size=2).map(tuple), options=_str_map
    ),
    st.builds(AuthVerification, kind=st.sampled_from(VerificationKind), text=_text),
    st.builds(AuthInfo, text=_text),
    st.builds(AuthError, kind=st.sampled_from(AuthErrorKind), text=_text),
    st.just(AuthFinished()),
)
_response: st.SearchStrategy[AuthenticationResponse] = st.one_of(
    st.builds(AuthInitializationResponse, methods=st.lists(_names, max_size=3).map(tuple)),
    st.builds(AuthChallengeResponse, answers=st.lists(st.sampled_from(
        [KEY.to_hex(), KEY.to_hex().upper(), WRONG.to_hex(), "", "zz"]), max_size=2).map(tuple)),
    st.builds(AuthVerificationResponse, valid=st.booleans()),
)  # fmt: skip


@settings(max_examples=300)
@given(
    methods=st.lists(st.sampled_from(["none", "static_key"]), unique=True, max_size=2),
    start=st.booleans(),
    responses=st.lists(_response, max_size=6),
)
def test_random_responses_only_raise_documented_errors(
    methods: list[str], start: bool, responses: list[AuthenticationResponse]
) -> None:
    verifier = Verifier(
        [StaticKeyMethod(KEY) if name == "static_key" else NoneMethod() for name in methods]
    )
    if start:
        verifier.start()
    for response in responses:
        before = verifier.state
        try:
            out = verifier.receive(AUTHENTICATION_RESPONSE.decode(
                AUTHENTICATION_RESPONSE.encode(response)))  # fmt: skip
        except (LocalProtocolError, RemoteProtocolError):
            assert verifier.state is before or verifier.failed
            continue
        for msg in out:
            AUTHENTICATION.decode(AUTHENTICATION.encode(msg))  # everything sent is encodable
        if verifier.succeeded:
            assert isinstance(out[-1], AuthFinished)


@settings(max_examples=300)
@given(st.lists(st.tuples(_authentication, _response, st.booleans()), max_size=8))
def test_random_server_messages_only_raise_documented_errors(
    script: list[tuple[Authentication, AuthenticationResponse, bool]],
) -> None:
    client = ClientAuthenticator()
    for msg, response, reply in script:
        try:
            event = client.receive(AUTHENTICATION.decode(AUTHENTICATION.encode(msg)))
        except AuthenticationFailed:
            assert client.failed
            assert isinstance(msg, AuthError) and msg.kind is AuthErrorKind.FATAL
            continue
        except (LocalProtocolError, RemoteProtocolError):
            continue
        assert event is not None
        if reply:
            with contextlib.suppress(LocalProtocolError):
                client.respond(response)


@settings(max_examples=200)
@given(st.lists(_authentication, max_size=8))
def test_random_server_messages_through_handlers(script: list[Authentication]) -> None:
    for handler in (StaticKeyHandler(KEY), NoneHandler()):
        client = ClientAuthenticator()
        for msg in script:
            try:
                drive(client, handler, msg)
            except AuthProtocolError:
                break
