"""The CLI's authentication handlers (§10, §12.3) and its JSON reader, without processes."""

from __future__ import annotations

import io
import json
import sys
from types import SimpleNamespace

import pytest

from distant_auth import AuthenticationFailed
from distant_cli.auth import JsonAuth, JsonReader, PromptAuth
from distant_cli.errors import CliError
from distant_codec import (
    AuthChallenge,
    AuthError,
    AuthErrorKind,
    AuthInfo,
    AuthInitialization,
    AuthStartMethod,
    AuthVerification,
    Question,
    VerificationKind,
)


def reader(text: str) -> JsonReader:
    return JsonReader(io.BytesIO(text.encode()))


def out_lines(capsys: pytest.CaptureFixture[str]) -> list[object]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_reader_joins_lines_and_skips_garbage() -> None:
    r = reader('\n{"a":\n 1}\nnope\n{"b": 2}\n[1,\n')
    assert r.read() == {"a": 1}
    with pytest.raises(ValueError, match="bad JSON"):
        r.read()
    assert r.read() == {"b": 2}
    with pytest.raises(ValueError, match="incomplete"):
        r.read()
    with pytest.raises(EOFError):
        r.read()


def test_reader_two_documents_on_one_line_is_an_error() -> None:
    r = reader('{"a":1}{"b":2}\n{"c":3}\n')
    with pytest.raises(ValueError):
        r.read()
    assert r.read() == {"c": 3}


def test_manager_mode_prints_the_whole_none_dialogue(capsys: pytest.CaptureFixture[str]) -> None:
    auth = JsonAuth(reader('{"type":"auth_initialization_response","methods":["none"]}\n'),
                    manager=True)  # fmt: skip
    answer = auth.on_initialization(AuthInitialization(("none",)))
    assert answer.methods == ("none",)
    auth.on_start_method(AuthStartMethod("none"))
    auth.on_finished()
    assert out_lines(capsys) == [
        {"type": "auth_initialization", "methods": ["none"]},
        {"type": "auth_start_method", "method": "none"},
        {"type": "auth_finished"},
    ]


def test_relay_mode_prints_only_requests(capsys: pytest.CaptureFixture[str]) -> None:
    answers = (
        '{"type":"auth_challenge_response","answers":["k"]}\n'
        '{"type":"auth_verification_response","valid":true}\n'
    )
    auth = JsonAuth(reader(answers))
    auth.on_start_method(AuthStartMethod("static_key"))
    auth.on_info(AuthInfo("hello"))
    challenge = AuthChallenge((Question("key", "Provide a key: ", {}),), {})
    assert auth.on_challenge(challenge).answers == ("k",)
    assert auth.on_verification(AuthVerification(VerificationKind.HOST, "ok?")).valid is True
    auth.on_error(AuthError(AuthErrorKind.ERROR, "not fatal"))
    auth.on_finished()
    lines = out_lines(capsys)
    assert [line["type"] for line in lines] == ["auth_challenge", "auth_verification"]  # type: ignore[index]
    with pytest.raises(CliError, match="authentication failed: boom"):
        auth.on_error(AuthError(AuthErrorKind.FATAL, "boom"))


@pytest.mark.parametrize(
    "answer",
    ["", "garbage\n", '{"type":"auth_verification_response","valid":true}\n',
     '{"type":"auth_challenge_response"}\n'],
)  # fmt: skip
def test_bad_json_answers_fail_authentication(answer: str) -> None:
    auth = JsonAuth(reader(answer))
    with pytest.raises(AuthenticationFailed):
        auth.on_challenge(AuthChallenge((Question("key", "Key: ", {}),), {}))


def test_prompt_without_a_terminal_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = SimpleNamespace(buffer=io.BytesIO(b"secret\ny\n"), isatty=lambda: False)
    monkeypatch.setattr(sys, "stdin", fake)
    auth = PromptAuth()
    challenge = AuthChallenge((Question("key", "Line one\nProvide a key: ", {}),), {})
    assert auth.on_challenge(challenge).answers == ("secret",)
    assert auth.on_verification(AuthVerification(VerificationKind.HOST, "Trust?")).valid is True
    err = capsys.readouterr().err
    assert "Line one\nProvide a key: " in err
    assert "Trust?\nEnter [y/N]> " in err
    assert "secret" not in err
    assert auth.on_verification(AuthVerification(VerificationKind.HOST, "again")).valid is False
    unknown = AuthVerification(VerificationKind.UNKNOWN, "?")
    assert auth.on_verification(unknown).valid is False
