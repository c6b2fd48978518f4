"""distant-auth: the sans-IO handshake and authentication of distant 0.21.

* codec negotiation (§3.3): :class:`HandshakeOptions`, :class:`HandshakeChoice`,
  :func:`default_server_options`, :func:`choose`, :func:`validate_choice`;
* key exchange (§3.4): :class:`KeyExchange`, :class:`KeyExchangeData`, and the redacted
  :class:`SecretKey` it produces (the session key and the OTP);
* connection bootstrap (§3.6): :class:`Connect`, :class:`Reconnect`,
  :func:`encode_connect_type` / :func:`decode_connect_type` and the connection id frame;
* the authentication dialogue (§4): the server's :class:`Verifier` with pluggable
  :class:`AuthMethod` s (:class:`NoneMethod`, :class:`StaticKeyMethod`), the client's
  :class:`ClientAuthenticator` with its events, and synchronous :class:`AuthHandler` s
  driven by :func:`drive`;
* the server's OTP :class:`Keychain` (§5.4).

Nothing here does I/O, starts threads, or logs. Decoders raise only
:class:`distant_codec.CodecError`; state machines raise :class:`LocalProtocolError`,
:class:`RemoteProtocolError` or :class:`AuthenticationFailed`.

Importing the package is cheap: every name is loaded from its submodule on first access
(PEP 562). ``cryptography`` is imported only once a key exchange runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # what typing.TYPE_CHECKING is at run time, without importing typing
if TYPE_CHECKING:
    from .client import (
        AuthNotice,
        AuthRequest,
        ClientAuthenticator,
        ClientEvent,
        ClientState,
        Finished,
        Notice,
        ResponseNeeded,
    )
    from .connect_type import (
        Connect,
        ConnectType,
        Reconnect,
        decode_connect_type,
        decode_connection_id,
        encode_connect_type,
        encode_connection_id,
    )
    from .errors import (
        AuthenticationFailed,
        AuthProtocolError,
        LocalProtocolError,
        RemoteProtocolError,
    )
    from .handler import (
        AuthHandler,
        BaseAuthHandler,
        DummyHandler,
        NoneHandler,
        PromptHandler,
        StaticKeyHandler,
        drive,
    )
    from .handshake import (
        COMPRESSION_LEVELS,
        COMPRESSION_TYPES,
        DEFAULT_ENCRYPTION_TYPE,
        KNOWN_ENCRYPTION_TYPES,
        UNKNOWN,
        HandshakeChoice,
        HandshakeOptions,
        Negotiated,
        choose,
        compression_type_name,
        default_server_options,
        encryption_type_name,
        is_known_compression_level,
        is_known_compression_type,
        is_known_encryption_type,
        validate_choice,
    )
    from .key_exchange import SALT_LENGTH, KeyExchange, KeyExchangeData
    from .keychain import Keychain
    from .methods import (
        NONE,
        STATIC_KEY,
        STATIC_KEY_CHALLENGE,
        STATIC_KEY_LABEL,
        AuthMethod,
        MethodMessage,
        MethodOutcome,
        MethodResponse,
        MethodSession,
        MethodStep,
        NoneMethod,
        StaticKeyMethod,
    )
    from .secret import SECRET_KEY_LENGTH, SecretKey
    from .verifier import Verifier, VerifierState

# Where each public name lives. Keep in step with the imports above, which are what type
# checkers see (test_public_api.py checks that the two agree).
# fmt: off
_SUBMODULE_EXPORTS: dict[str, tuple[str, ...]] = {
    "client": ("AuthNotice", "AuthRequest", "ClientAuthenticator", "ClientEvent", "ClientState",
               "Finished", "Notice", "ResponseNeeded"),
    "connect_type": ("Connect", "ConnectType", "Reconnect", "decode_connect_type",
                     "decode_connection_id", "encode_connect_type", "encode_connection_id"),
    "errors": ("AuthenticationFailed", "AuthProtocolError", "LocalProtocolError",
               "RemoteProtocolError"),
    "handler": ("AuthHandler", "BaseAuthHandler", "DummyHandler", "NoneHandler", "PromptHandler",
                "StaticKeyHandler", "drive"),
    "handshake": ("COMPRESSION_LEVELS", "COMPRESSION_TYPES", "DEFAULT_ENCRYPTION_TYPE",
                  "KNOWN_ENCRYPTION_TYPES", "UNKNOWN", "HandshakeChoice", "HandshakeOptions",
                  "Negotiated", "choose", "compression_type_name", "default_server_options",
                  "encryption_type_name", "is_known_compression_level",
                  "is_known_compression_type", "is_known_encryption_type", "validate_choice"),
    "key_exchange": ("SALT_LENGTH", "KeyExchange", "KeyExchangeData"),
    "keychain": ("Keychain",),
    "methods": ("NONE", "STATIC_KEY", "STATIC_KEY_CHALLENGE", "STATIC_KEY_LABEL", "AuthMethod",
                "MethodMessage", "MethodOutcome", "MethodResponse", "MethodSession", "MethodStep",
                "NoneMethod", "StaticKeyMethod"),
    "secret": ("SECRET_KEY_LENGTH", "SecretKey"),
    "verifier": ("Verifier", "VerifierState"),
}
_SUBMODULES = (
    "client", "connect_type", "errors", "handler", "handshake", "key_exchange", "keychain",
    "methods", "secret", "verifier",
)
# fmt: on
_MODULE_OF: dict[str, str] = {sub: sub for sub in _SUBMODULES}
_MODULE_OF.update((name, sub) for sub, names in _SUBMODULE_EXPORTS.items() for name in names)

__all__ = [
    # errors
    "AuthProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "AuthenticationFailed",
    # secrets
    "SecretKey",
    "SECRET_KEY_LENGTH",
    # codec negotiation (§3.3)
    "HandshakeOptions",
    "HandshakeChoice",
    "Negotiated",
    "UNKNOWN",
    "COMPRESSION_TYPES",
    "COMPRESSION_LEVELS",
    "DEFAULT_ENCRYPTION_TYPE",
    "KNOWN_ENCRYPTION_TYPES",
    "default_server_options",
    "choose",
    "validate_choice",
    "is_known_compression_type",
    "is_known_compression_level",
    "is_known_encryption_type",
    "compression_type_name",
    "encryption_type_name",
    # key exchange (§3.4)
    "KeyExchange",
    "KeyExchangeData",
    "SALT_LENGTH",
    # connect type and connection id (§3.6)
    "Connect",
    "Reconnect",
    "ConnectType",
    "encode_connect_type",
    "decode_connect_type",
    "encode_connection_id",
    "decode_connection_id",
    # server side of authentication (§4.3, §4.4)
    "Verifier",
    "VerifierState",
    "AuthMethod",
    "MethodSession",
    "MethodStep",
    "MethodOutcome",
    "MethodMessage",
    "MethodResponse",
    "NoneMethod",
    "StaticKeyMethod",
    "NONE",
    "STATIC_KEY",
    "STATIC_KEY_LABEL",
    "STATIC_KEY_CHALLENGE",
    # client side of authentication
    "ClientAuthenticator",
    "ClientState",
    "ClientEvent",
    "ResponseNeeded",
    "Notice",
    "Finished",
    "AuthRequest",
    "AuthNotice",
    "AuthHandler",
    "BaseAuthHandler",
    "DummyHandler",
    "NoneHandler",
    "StaticKeyHandler",
    "PromptHandler",
    "drive",
    # OTP keychain (§5.4)
    "Keychain",
]


if not TYPE_CHECKING:  # type checkers see the imports above, not a catch-all __getattr__
    from distant_codec.lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF, __all__)
