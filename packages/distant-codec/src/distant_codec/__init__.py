"""distant-codec: the sans-IO wire format of distant 0.21.

* frames (§2): :func:`encode_frame`, :class:`FrameDecoder`;
* codecs (§3.5): plain, compression, XChaCha20-Poly1305, and their chain;
* the protocol version bytes (§3.2);
* a typed model of every message: the API requests and responses (§7) in
  :mod:`~distant_codec.requests` and :mod:`~distant_codec.responses`, the common types,
  :class:`Msg`, the envelopes (§6), the manager protocol (§9) in
  :mod:`~distant_codec.manager_requests` and :mod:`~distant_codec.manager_responses`,
  the authentication messages (§4) and the external plugin setup messages (§11).

Every message converts to and from msgpack and to and from the JSON of §1.2. Every decoder
raises :class:`CodecError` on bad input, and nothing else. No I/O happens here.

Importing the package is cheap: every name is loaded from its submodule on first access
(PEP 562), so ``from distant_codec import FrameDecoder`` imports the framing code and no
message model, and no submodule imports ``cryptography`` before a cipher is used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # what typing.TYPE_CHECKING is at run time, without importing typing
if TYPE_CHECKING:
    from . import extensions, manager_requests, manager_responses, requests, responses
    from .authentication import (
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
    from .cli import CLI_SELECT, CliSelectMessage, Selected, SelectPrompt
    from .codecs import (
        DEFAULT_COMPRESSION_LEVEL,
        ChainCodec,
        Codec,
        CompressionCodec,
        CompressionLevel,
        CompressionType,
        EncryptionType,
        PlainCodec,
        XChaCha20Poly1305Codec,
        codec_for,
    )
    from .common import (
        CONDITION,
        MATCH_DATA,
        SEARCH_QUERY_MATCH,
        Change,
        ChangeDetails,
        ChangeDetailsAttribute,
        ChangeKind,
        Condition,
        Contains,
        ContentsMatch,
        DirEntry,
        EndsWith,
        Equals,
        Error,
        ErrorKind,
        FileType,
        MatchData,
        Metadata,
        Or,
        PathMatch,
        Permissions,
        PtySize,
        Regex,
        SearchQuery,
        SearchQueryMatch,
        SearchQueryOptions,
        SearchQueryTarget,
        SetPermissionsOptions,
        StartsWith,
        Submatch,
        SystemInfo,
        TunnelDirection,
        TunnelInfo,
        UnixMetadata,
        Version,
        WindowsMetadata,
    )
    from .counter_nonce import CounterNonceCodec
    from .destination import Destination, find_credentials, format_credentials
    from .envelope import (
        UNTYPED_REQUEST,
        UNTYPED_RESPONSE,
        BinParts,
        Header,
        Request,
        Response,
        UntypedRequest,
        UntypedResponse,
        decode_header,
        encode_header,
        new_id,
    )
    from .errors import CodecError, FrameTooLarge
    from .extensions import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE
    from .frame import (
        COUNTER_NONCE_TYPE,
        DEFAULT_MAX_ITEM_SIZE,
        HEADER_SIZE,
        FrameDecoder,
        encode_frame,
    )
    from .lazy import lazy_exports
    from .manager_requests import MANAGER_REQUEST, ManagerRequest
    from .manager_responses import MANAGER_RESPONSE, ConnectionInfo, ManagerResponse
    from .msg import Msg, MsgKind
    from .options_map import OPTIONS_MAP, format_options, parse_options
    from .plugin import (
        PluginAuthChallenge,
        PluginAuthResponse,
        PluginDestination,
        PluginError,
        PluginQuestion,
        PluginReady,
        PluginSetupMessage,
        parse_plugin_message,
        plugin_message_to_json,
    )
    from .requests import MSG_REQUEST, REQUEST
    from .responses import MSG_RESPONSE, RESPONSE
    from .schema import Kind, Struct, TaggedUnion, packb, unpackb
    from .version import PROTOCOL_VERSION, VERSION_BYTES_LEN, ProtocolVersion
    from .xchacha import XChaCha20Poly1305, hchacha20

# Where each public name lives. Keep in step with the imports above, which are what type
# checkers see (test_public_api.py checks that the two agree).
# fmt: off
_SUBMODULE_EXPORTS: dict[str, tuple[str, ...]] = {
    "authentication": ("AUTHENTICATION", "AUTHENTICATION_RESPONSE", "AuthChallenge",
                       "AuthChallengeResponse", "Authentication", "AuthenticationResponse",
                       "AuthError", "AuthErrorKind", "AuthFinished", "AuthInfo",
                       "AuthInitialization", "AuthInitializationResponse", "AuthStartMethod",
                       "AuthVerification", "AuthVerificationResponse", "Question",
                       "VerificationKind"),
    "cli": ("CLI_SELECT", "CliSelectMessage", "Selected", "SelectPrompt"),
    "codecs": ("DEFAULT_COMPRESSION_LEVEL", "ChainCodec", "Codec", "CompressionCodec",
               "CompressionLevel", "CompressionType", "EncryptionType", "PlainCodec",
               "XChaCha20Poly1305Codec", "codec_for"),
    "common": ("CONDITION", "MATCH_DATA", "SEARCH_QUERY_MATCH", "Change", "ChangeDetails",
               "ChangeDetailsAttribute", "ChangeKind", "Condition", "Contains", "ContentsMatch",
               "DirEntry", "EndsWith", "Equals", "Error", "ErrorKind", "FileType", "MatchData",
               "Metadata", "Or", "PathMatch", "Permissions", "PtySize", "Regex", "SearchQuery",
               "SearchQueryMatch", "SearchQueryOptions", "SearchQueryTarget",
               "SetPermissionsOptions", "StartsWith", "Submatch", "SystemInfo", "TunnelDirection",
               "TunnelInfo", "UnixMetadata", "Version", "WindowsMetadata"),
    "counter_nonce": ("CounterNonceCodec",),
    "destination": ("Destination", "find_credentials", "format_credentials"),
    "envelope": ("UNTYPED_REQUEST", "UNTYPED_RESPONSE", "BinParts", "Header", "Request", "Response",
                 "UntypedRequest", "UntypedResponse", "decode_header", "encode_header", "new_id"),
    "errors": ("CodecError", "FrameTooLarge"),
    "extensions": ("MSG_EXTENDED_REQUEST", "MSG_EXTENDED_RESPONSE"),
    "lazy": ("lazy_exports",),
    "frame": ("COUNTER_NONCE_TYPE", "DEFAULT_MAX_ITEM_SIZE", "HEADER_SIZE", "FrameDecoder",
              "encode_frame"),
    "manager_requests": ("MANAGER_REQUEST", "ManagerRequest"),
    "manager_responses": ("MANAGER_RESPONSE", "ConnectionInfo", "ManagerResponse"),
    "msg": ("Msg", "MsgKind"),
    "options_map": ("OPTIONS_MAP", "format_options", "parse_options"),
    "plugin": ("PluginAuthChallenge", "PluginAuthResponse", "PluginDestination", "PluginError",
               "PluginQuestion", "PluginReady", "PluginSetupMessage", "parse_plugin_message",
               "plugin_message_to_json"),
    "requests": ("MSG_REQUEST", "REQUEST"),
    "responses": ("MSG_RESPONSE", "RESPONSE"),
    "schema": ("Kind", "Struct", "TaggedUnion", "packb", "unpackb"),
    "version": ("PROTOCOL_VERSION", "VERSION_BYTES_LEN", "ProtocolVersion"),
    "xchacha": ("XChaCha20Poly1305", "hchacha20"),
}
_SUBMODULES = (
    "authentication", "cli", "codecs", "common", "counter_nonce", "destination", "envelope",
    "errors", "extensions", "frame", "lazy", "manager_requests", "manager_responses", "msg",
    "options_map", "plugin", "requests", "responses", "schema", "version", "xchacha",
)
# fmt: on
_MODULE_OF: dict[str, str] = {sub: sub for sub in _SUBMODULES}
_MODULE_OF.update((name, sub) for sub, names in _SUBMODULE_EXPORTS.items() for name in names)

__all__ = [
    "lazy_exports",
    # errors
    "CodecError",
    "FrameTooLarge",
    # frames, codecs, version bytes
    "DEFAULT_MAX_ITEM_SIZE",
    "FrameDecoder",
    "encode_frame",
    "Codec",
    "PlainCodec",
    "CompressionCodec",
    "CompressionLevel",
    "CompressionType",
    "EncryptionType",
    "XChaCha20Poly1305Codec",
    "ChainCodec",
    "codec_for",
    "COUNTER_NONCE_TYPE",
    "CounterNonceCodec",
    "HEADER_SIZE",
    "DEFAULT_COMPRESSION_LEVEL",
    "XChaCha20Poly1305",
    "hchacha20",
    "PROTOCOL_VERSION",
    "VERSION_BYTES_LEN",
    "ProtocolVersion",
    # schema
    "Kind",
    "Struct",
    "TaggedUnion",
    "packb",
    "unpackb",
    # API payloads
    "requests",
    "responses",
    "REQUEST",
    "RESPONSE",
    "MSG_REQUEST",
    "MSG_RESPONSE",
    "MSG_EXTENDED_REQUEST",
    "MSG_EXTENDED_RESPONSE",
    "extensions",
    "Msg",
    "MsgKind",
    # common types
    "Error",
    "ErrorKind",
    "FileType",
    "DirEntry",
    "Metadata",
    "UnixMetadata",
    "WindowsMetadata",
    "Permissions",
    "SetPermissionsOptions",
    "Change",
    "ChangeDetails",
    "ChangeDetailsAttribute",
    "ChangeKind",
    "PtySize",
    "SearchQuery",
    "SearchQueryOptions",
    "SearchQueryTarget",
    "Condition",
    "CONDITION",
    "Contains",
    "EndsWith",
    "Equals",
    "Regex",
    "StartsWith",
    "Or",
    "SearchQueryMatch",
    "SEARCH_QUERY_MATCH",
    "PathMatch",
    "ContentsMatch",
    "Submatch",
    "MatchData",
    "MATCH_DATA",
    "SystemInfo",
    "Version",
    "TunnelDirection",
    "TunnelInfo",
    # envelopes
    "Header",
    "Request",
    "Response",
    "UntypedRequest",
    "UntypedResponse",
    "BinParts",
    "UNTYPED_REQUEST",
    "UNTYPED_RESPONSE",
    "encode_header",
    "decode_header",
    "new_id",
    # manager protocol
    "manager_requests",
    "manager_responses",
    "ManagerRequest",
    "ManagerResponse",
    "MANAGER_REQUEST",
    "MANAGER_RESPONSE",
    "ConnectionInfo",
    "OPTIONS_MAP",
    "parse_options",
    "format_options",
    # authentication messages
    "Authentication",
    "AuthenticationResponse",
    "AUTHENTICATION",
    "AUTHENTICATION_RESPONSE",
    "AuthInitialization",
    "AuthStartMethod",
    "AuthChallenge",
    "AuthVerification",
    "AuthInfo",
    "AuthError",
    "AuthFinished",
    "AuthInitializationResponse",
    "AuthChallengeResponse",
    "AuthVerificationResponse",
    "AuthErrorKind",
    "VerificationKind",
    "Question",
    # external plugin setup messages
    "PluginSetupMessage",
    "PluginAuthChallenge",
    "PluginAuthResponse",
    "PluginDestination",
    "PluginError",
    "PluginQuestion",
    "PluginReady",
    "parse_plugin_message",
    "plugin_message_to_json",
    # destinations and credentials
    "Destination",
    "find_credentials",
    "format_credentials",
    # CLI dialogues
    "CliSelectMessage",
    "CLI_SELECT",
    "SelectPrompt",
    "Selected",
]


if not TYPE_CHECKING:  # type checkers see the imports above, not a catch-all __getattr__
    from .lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF, __all__)
