"""The authentication dialogue messages (§4), exchanged as bare msgpack frames.

``Authentication`` flows server → client; ``AuthenticationResponse`` client → server. Both
are internally tagged by ``type``; their JSON form is what ``distant api`` and the
``--format json`` commands print and read (§10, §12.3).
"""

from __future__ import annotations

import enum
from typing import Annotated, ClassVar

from .schema import EnumKind, Struct, TaggedUnion, struct

__all__ = [
    "Question",
    "VerificationKind",
    "AuthErrorKind",
    "AuthInitialization",
    "AuthStartMethod",
    "AuthChallenge",
    "AuthVerification",
    "AuthInfo",
    "AuthError",
    "AuthFinished",
    "Authentication",
    "AUTHENTICATION",
    "AuthInitializationResponse",
    "AuthChallengeResponse",
    "AuthVerificationResponse",
    "AuthenticationResponse",
    "AUTHENTICATION_RESPONSE",
]


@struct
class Question(Struct):
    """One prompt of a challenge; all three fields are required on the wire."""

    label: str
    text: str
    options: dict[str, str]


class VerificationKind(enum.StrEnum):
    HOST = "host"
    UNKNOWN = "unknown"


class AuthErrorKind(enum.StrEnum):
    FATAL = "fatal"
    ERROR = "error"


@struct
class AuthInitialization(Struct):
    TAG: ClassVar[str] = "auth_initialization"
    methods: tuple[str, ...]


@struct
class AuthStartMethod(Struct):
    TAG: ClassVar[str] = "auth_start_method"
    method: str


@struct
class AuthChallenge(Struct):
    TAG: ClassVar[str] = "auth_challenge"
    questions: tuple[Question, ...]
    options: dict[str, str]


@struct
class AuthVerification(Struct):
    """A yes/no question such as an SSH host key; unknown kinds decode as ``unknown``."""

    TAG: ClassVar[str] = "auth_verification"
    kind: Annotated[VerificationKind, EnumKind(VerificationKind, VerificationKind.UNKNOWN)]
    text: str


@struct
class AuthInfo(Struct):
    TAG: ClassVar[str] = "auth_info"
    text: str


@struct
class AuthError(Struct):
    """``fatal`` means the client must abort."""

    TAG: ClassVar[str] = "auth_error"
    kind: AuthErrorKind
    text: str


@struct
class AuthFinished(Struct):
    TAG: ClassVar[str] = "auth_finished"


Authentication = (
    AuthInitialization | AuthStartMethod | AuthChallenge | AuthVerification | AuthInfo
    | AuthError | AuthFinished
)  # fmt: skip
AUTHENTICATION: TaggedUnion[Authentication] = TaggedUnion(
    "Authentication",
    [AuthInitialization, AuthStartMethod, AuthChallenge, AuthVerification, AuthInfo,
     AuthError, AuthFinished],
)  # fmt: skip


@struct
class AuthInitializationResponse(Struct):
    TAG: ClassVar[str] = "auth_initialization_response"
    methods: tuple[str, ...]


@struct
class AuthChallengeResponse(Struct):
    TAG: ClassVar[str] = "auth_challenge_response"
    answers: tuple[str, ...]

    def __repr__(self) -> str:  # answers are secrets (keys, passwords)
        return f"AuthChallengeResponse(answers=<{len(self.answers)} redacted>)"


@struct
class AuthVerificationResponse(Struct):
    TAG: ClassVar[str] = "auth_verification_response"
    valid: bool


AuthenticationResponse = (
    AuthInitializationResponse | AuthChallengeResponse | AuthVerificationResponse
)
AUTHENTICATION_RESPONSE: TaggedUnion[AuthenticationResponse] = TaggedUnion(
    "AuthenticationResponse",
    [AuthInitializationResponse, AuthChallengeResponse, AuthVerificationResponse],
)
