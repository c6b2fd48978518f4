"""Authentication handlers of the CLI (§10, §12.3).

* :class:`PromptAuth` (``--format shell``): challenges are asked on the terminal, every
  answer without echo (a static key never shows on screen); verifications ask
  ``Enter [y/N]>``. Prompts go to stderr. Without a terminal the answers are read from
  stdin, one line each.
* :class:`JsonAuth` (``--format json``): the requests are printed as JSON lines on stdout and
  the answers read from stdin, one JSON document at a time. In ``manager`` mode (the manager
  socket's own ``none`` dialogue, §10 step 1) every message is printed; in relay mode (prompts
  relayed from a remote server during connect/launch) ``auth_start_method``, ``auth_info``,
  ``auth_error`` and ``auth_finished`` are only logged, and a fatal error aborts.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, BinaryIO

from distant_auth import AuthenticationFailed, BaseAuthHandler
from distant_codec import (
    AUTHENTICATION,
    AUTHENTICATION_RESPONSE,
    AuthChallenge,
    AuthChallengeResponse,
    AuthError,
    AuthErrorKind,
    AuthInfo,
    AuthInitialization,
    AuthInitializationResponse,
    AuthStartMethod,
    AuthVerification,
    AuthVerificationResponse,
    CodecError,
    VerificationKind,
)

from .errors import CliError
from .output import print_json as write_json

__all__ = ["PromptAuth", "JsonAuth", "JsonReader", "write_json"]

logger = logging.getLogger("distant_cli.auth")


class JsonReader:
    """JSON documents from a binary stream: lines are joined until they parse (§10).

    Without ``stream`` it reads file descriptor 0 with ``os.read`` and a buffer of its own,
    not through ``sys.stdin``: a thread blocked on ``sys.stdin.buffer`` holds its lock, and
    the interpreter then aborts at exit ("could not acquire lock ... at interpreter
    shutdown"), which ``distant api`` would hit whenever it ends before its input does.
    """

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self.stream = stream
        self._buffer = bytearray()
        self._eof = False

    def _readline(self) -> bytes:
        if self.stream is not None:
            return self.stream.readline()
        import os

        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if self._eof:
                line = bytes(self._buffer)
                self._buffer.clear()
                return line
            try:
                chunk = os.read(0, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._eof = True
            self._buffer += chunk

    def read(self) -> Any:
        """The next document; :class:`EOFError` at the end of input; :class:`ValueError`
        (after which reading goes on with the next line) for text that is not JSON."""
        import json

        buf = ""
        while True:
            line = self._readline()
            if not line:
                if buf.strip():
                    raise ValueError(f"incomplete JSON at the end of input: {buf.strip()!r}")
                raise EOFError
            buf += line.decode("utf-8", "replace")
            if not buf.strip():
                buf = ""
                continue
            try:
                return json.loads(buf)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(buf.rstrip()) and exc.msg != "Extra data":
                    continue  # incomplete: the document goes on on the next line
                raise ValueError(f"bad JSON ({exc.msg}): {buf.strip()!r}") from None


class JsonAuth(BaseAuthHandler):
    """The ``--format json`` handler (see the module docs)."""

    def __init__(self, reader: JsonReader | None = None, *, manager: bool = False) -> None:
        self.reader = reader or JsonReader()
        self.manager = manager

    def _ask(self, msg: Any, kind: type[Any]) -> Any:
        write_json(AUTHENTICATION.to_json(msg))
        try:
            answer = self.reader.read()
        except EOFError:
            raise AuthenticationFailed("no answer to the authentication request") from None
        except ValueError as exc:
            raise AuthenticationFailed(str(exc)) from None
        try:
            response = AUTHENTICATION_RESPONSE.from_json(answer)
        except CodecError as exc:
            raise AuthenticationFailed(f"bad authentication answer: {exc}") from None
        if not isinstance(response, kind):
            raise AuthenticationFailed(
                f"expected {kind.TAG}, got {getattr(response, 'TAG', type(response).__name__)}"
            )
        return response

    def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        response: AuthInitializationResponse = self._ask(msg, AuthInitializationResponse)
        return response

    def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        response: AuthChallengeResponse = self._ask(msg, AuthChallengeResponse)
        return response

    def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        response: AuthVerificationResponse = self._ask(msg, AuthVerificationResponse)
        return response

    def _notice(self, msg: Any) -> None:
        if self.manager:
            write_json(AUTHENTICATION.to_json(msg))
        else:
            logger.debug("auth: %s", AUTHENTICATION.to_json(msg))

    def on_start_method(self, msg: AuthStartMethod) -> None:
        self._notice(msg)

    def on_info(self, msg: AuthInfo) -> None:
        self._notice(msg)

    def on_error(self, msg: AuthError) -> None:
        self._notice(msg)
        if not self.manager:
            logger.error("authentication error: %s", msg.text)
            if msg.kind == AuthErrorKind.FATAL:
                raise CliError(f"authentication failed: {msg.text}")

    def on_finished(self) -> None:
        if self.manager:
            from distant_codec import AuthFinished

            write_json(AUTHENTICATION.to_json(AuthFinished()))
        else:
            logger.debug("auth: finished")


class PromptAuth(BaseAuthHandler):
    """The ``--format shell`` handler: prompts on stderr, answers from the terminal."""

    def _read(self, prompt: str, *, secret: bool) -> str:
        stdin = sys.stdin
        interactive = stdin is not None and stdin.isatty()
        if interactive and secret:
            import getpass

            try:
                return getpass.getpass(prompt, stream=sys.stderr)
            except (EOFError, KeyboardInterrupt):
                raise AuthenticationFailed("authentication was cancelled") from None
        sys.stderr.write(prompt)
        sys.stderr.flush()
        line = stdin.buffer.readline() if stdin is not None else b""
        if not interactive and secret:
            sys.stderr.write("\n")
            sys.stderr.flush()
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        answers: list[str] = []
        for question in msg.questions:
            *before, last = question.text.split("\n")
            for line in before:
                sys.stderr.write(line + "\n")
            answers.append(self._read(last, secret=True))
        return AuthChallengeResponse(answers=tuple(answers))

    def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        if msg.kind != VerificationKind.HOST:
            logger.error("unsupported verification kind: %s", msg.kind.value)
            return AuthVerificationResponse(valid=False)
        sys.stderr.write(msg.text + "\n")
        answer = self._read("Enter [y/N]> ", secret=False).strip()
        return AuthVerificationResponse(valid=answer in ("y", "Y", "yes", "YES"))

    def on_info(self, msg: AuthInfo) -> None:
        sys.stderr.write(msg.text + "\n")
        sys.stderr.flush()

    def on_error(self, msg: AuthError) -> None:
        logger.error("authentication error: %s", msg.text)
        sys.stderr.write(f"{msg.text}\n")
        sys.stderr.flush()
