"""The exceptions of distant-auth, named after whose fault they are (h11 style).

* :class:`LocalProtocolError`: *we* misused the API, for example by responding when no
  request is pending or by deriving a key twice. Fix the calling code.
* :class:`RemoteProtocolError`: the *peer* broke the protocol, for example by sending a
  response of the wrong type for the current state. Close the connection.
* :class:`AuthenticationFailed`: the dialogue was well formed but authentication did not
  succeed (a fatal ``auth_error`` from the server, or a request our handler cannot answer).

All three derive from :class:`AuthProtocolError`, so one ``except`` catches every error this
package raises on purpose. Bad *bytes* are a different matter: decoders raise
:class:`distant_codec.CodecError`, as everywhere in distant.

No message ever contains a secret: keys, OTPs and challenge answers are never formatted into
exception text. Only message *types* and non-secret names (method names, question labels,
the server's own error text) appear.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distant_codec.authentication import AuthError

__all__ = [
    "AuthProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "AuthenticationFailed",
]


class AuthProtocolError(Exception):
    """Base of every exception that distant-auth raises deliberately."""


class LocalProtocolError(AuthProtocolError):
    """Our side misused the state machine or the API; a bug in the calling code."""


class RemoteProtocolError(AuthProtocolError):
    """The peer sent something invalid or out of order; the connection should be closed."""


class AuthenticationFailed(AuthProtocolError):
    """Authentication did not succeed.

    ``error`` holds the server's fatal ``auth_error`` message when that is the cause, and
    ``None`` when the failure was decided locally (for example a handler that cannot
    answer a question).
    """

    def __init__(self, message: str, *, error: AuthError | None = None) -> None:
        super().__init__(message)
        self.error = error
