"""Connection establishment exactly as §3.1, for both ends.

New connection::

    version bytes → Options/Choice → key exchange → ConnectType "Connect" → connection id
    → authentication dialogue → OTP key exchange

Reconnection (§5.4)::

    version bytes (ignored) → Options/Choice → key exchange → {"Reconnect": {id, otp}}
    → new OTP key exchange → synchronize (see :mod:`distant_net.sync`)

From ConnectType on, the frames of a *new* connection are counted in its replay buffer on
both sides (§5.3); the frames of a reconnection are not.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from distant_auth import (
    DEFAULT_ENCRYPTION_TYPE,
    AuthenticationFailed,
    AuthProtocolError,
    ClientAuthenticator,
    Connect,
    Finished,
    HandshakeChoice,
    HandshakeOptions,
    Keychain,
    KeyExchange,
    KeyExchangeData,
    Notice,
    Reconnect,
    ResponseNeeded,
    SecretKey,
    Verifier,
    choose,
    decode_connect_type,
    decode_connection_id,
    default_server_options,
    encode_connect_type,
    encode_connection_id,
    validate_choice,
)
from distant_codec import (
    AUTHENTICATION,
    AUTHENTICATION_RESPONSE,
    COUNTER_NONCE_TYPE,
    PROTOCOL_VERSION,
    VERSION_BYTES_LEN,
    AuthChallenge,
    AuthError,
    AuthInfo,
    AuthInitialization,
    AuthStartMethod,
    AuthVerification,
    ProtocolVersion,
)

from .auth_handler import AsyncAuthHandler
from .errors import AuthenticationError, HandshakeError, IncompatibleVersion
from .framed import FramedTransport
from .negotiation import EXTENDED_ENCRYPTION_TYPES, build_codec
from .replay import ReplayBuffer

__all__ = [
    "ClientSettings",
    "ServerSettings",
    "NewConnection",
    "Reconnection",
    "client_connect",
    "client_reconnect",
    "server_accept",
    "build_codec",
    "EXTENDED_ENCRYPTION_TYPES",
]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """What a client prefers in the codec negotiation (§3.3).

    By default it prefers the counter-nonce cipher when offered (our servers), and falls
    back to XChaCha20Poly1305 (Rust servers). ``encrypt=False`` asks for no encryption.
    """

    compression: str | None = None
    compression_level: str | None = None
    encryption: str | None = COUNTER_NONCE_TYPE
    encrypt: bool = True
    version: ProtocolVersion = PROTOCOL_VERSION

    def choose(self, options: HandshakeOptions) -> HandshakeChoice:
        return choose(
            options,
            compression=self.compression,
            level=self.compression_level,
            encryption=self.encryption,
            known_encryption_types=EXTENDED_ENCRYPTION_TYPES,
            encrypt=self.encrypt,
        )


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What a server offers and how it authenticates new connections."""

    verifier: Callable[[], Verifier]
    version: ProtocolVersion = PROTOCOL_VERSION
    encryption_types: tuple[str, ...] = (DEFAULT_ENCRYPTION_TYPE, COUNTER_NONCE_TYPE)
    offer: HandshakeOptions = field(init=False)

    def __post_init__(self) -> None:
        extra = [t for t in self.encryption_types if t != DEFAULT_ENCRYPTION_TYPE]
        object.__setattr__(self, "offer", default_server_options(extra))


class _Frames:
    """Sends and receives handshake frames, counting them when ``replay`` is given."""

    def __init__(self, transport: FramedTransport, replay: ReplayBuffer | None) -> None:
        self.transport = transport
        self.replay = replay

    async def send(self, item: bytes) -> None:
        if self.replay is not None:
            self.replay.record_sent(item)
        await self.transport.send_frame(item)

    async def receive(self) -> bytes:
        while True:
            item = await self.transport.receive_frame()
            if item:  # heartbeats may arrive at any time; they are not part of the dialogue
                if self.replay is not None:
                    self.replay.record_received()
                return item


async def _exchange_keys(frames: _Frames) -> SecretKey:
    """One P-256 key exchange (§3.4): both send first, then read."""
    kx = KeyExchange()
    await frames.send(kx.data.to_msgpack())
    peer = KeyExchangeData.from_msgpack(await frames.receive())
    return kx.derive(peer)


async def _client_negotiate(transport: FramedTransport, settings: ClientSettings) -> None:
    frames = _Frames(transport, None)
    options = HandshakeOptions.from_msgpack(await frames.receive())
    choice = settings.choose(options)
    await frames.send(choice.to_msgpack())
    negotiated = validate_choice(choice, known_encryption_types=EXTENDED_ENCRYPTION_TYPES)
    key = await _exchange_keys(frames) if negotiated.encryption_type is not None else None
    transport.codec = build_codec(negotiated, key, client=True)
    transport.acks = negotiated.encryption_type == COUNTER_NONCE_TYPE


async def _read_version(transport: FramedTransport) -> ProtocolVersion:
    return ProtocolVersion.from_bytes(await transport.receive_exactly(VERSION_BYTES_LEN))


async def client_connect(
    transport: FramedTransport,
    *,
    handler: AsyncAuthHandler,
    replay: ReplayBuffer,
    settings: ClientSettings | None = None,
) -> tuple[int, SecretKey]:
    """Bootstrap a new connection; returns the connection id and the OTP."""
    settings = settings or ClientSettings()
    server_version = await _read_version(transport)
    if not settings.version.is_compatible_with(server_version):
        raise IncompatibleVersion(
            f"server protocol {server_version} is not compatible with ours ({settings.version})"
        )
    await _client_negotiate(transport, settings)
    frames = _Frames(transport, replay)
    await frames.send(encode_connect_type(Connect()))
    connection_id = decode_connection_id(await frames.receive())
    await _client_authenticate(frames, handler)
    otp = await _exchange_keys(frames)
    return connection_id, otp


async def client_reconnect(
    transport: FramedTransport,
    *,
    connection_id: int,
    otp: SecretKey,
    settings: ClientSettings | None = None,
) -> SecretKey:
    """Re-establish connection ``connection_id`` on a new link; returns the new OTP."""
    settings = settings or ClientSettings()
    await _read_version(transport)  # read, and ignored on a reconnect (§3.2)
    await _client_negotiate(transport, settings)
    frames = _Frames(transport, None)
    await frames.send(encode_connect_type(Reconnect(connection_id, otp)))
    return await _exchange_keys(frames)


async def _client_authenticate(frames: _Frames, handler: AsyncAuthHandler) -> None:
    auth = ClientAuthenticator()
    while True:
        msg = AUTHENTICATION.decode(await frames.receive())
        try:
            event = auth.receive(msg)
        except AuthenticationFailed as exc:
            if isinstance(msg, AuthError):
                await handler.on_error(msg)
            raise AuthenticationError(str(exc)) from None
        except AuthProtocolError as exc:
            raise HandshakeError(f"authentication: {exc}") from None
        if isinstance(event, Finished):
            await handler.on_finished()
            return
        if isinstance(event, Notice):
            notice = event.msg
            if isinstance(notice, AuthStartMethod):
                await handler.on_start_method(notice)
            elif isinstance(notice, AuthInfo):
                await handler.on_info(notice)
            else:
                await handler.on_error(notice)
            continue
        assert isinstance(event, ResponseNeeded)
        request = event.request
        if isinstance(request, AuthInitialization):
            response: object = await handler.on_initialization(request)
        elif isinstance(request, AuthChallenge):
            response = await handler.on_challenge(request)
        else:
            assert isinstance(request, AuthVerification)
            response = await handler.on_verification(request)
        answer = auth.respond(response)  # type: ignore[arg-type]
        await frames.send(AUTHENTICATION_RESPONSE.encode(answer))


@dataclass(frozen=True, slots=True)
class NewConnection:
    """A client that completed the bootstrap of a new connection."""

    connection_id: int
    replay: ReplayBuffer
    method: str | None


@dataclass(frozen=True, slots=True)
class Reconnection:
    """A client that proved it owns connection ``connection_id`` (its OTP was right).

    ``otp`` is the OTP it offered; the server keeps accepting it until this reconnection
    completes (see ``previous_otp`` in :func:`server_accept`)."""

    connection_id: int
    otp: SecretKey | None = field(default=None, compare=False, repr=False)


async def server_accept(
    transport: FramedTransport,
    *,
    settings: ServerSettings,
    keychain: Keychain,
    is_taken: Callable[[int], bool],
    previous_otp: dict[int, SecretKey] | None = None,
    replay_bytes: int | None = None,
) -> NewConnection | Reconnection:
    """Run the server side of §3.1 (or of a reconnection) on a freshly accepted link.

    Raises :class:`HandshakeError` (or ``CodecError``, or a transport error) when the
    peer misbehaves; the caller closes the link and logs the reason.
    """
    await transport.send_raw(settings.version.to_bytes())
    plain = _Frames(transport, None)
    await plain.send(settings.offer.to_msgpack())
    choice = HandshakeChoice.from_msgpack(await plain.receive())
    try:
        negotiated = validate_choice(
            choice, known_encryption_types=EXTENDED_ENCRYPTION_TYPES, offered=settings.offer
        )
    except AuthProtocolError as exc:
        raise HandshakeError(str(exc)) from None
    key = await _exchange_keys(plain) if negotiated.encryption_type is not None else None
    transport.codec = build_codec(negotiated, key, client=False)
    # Only our own peers offer and pick the counter-nonce cipher, so a link that uses it
    # can also carry our acknowledgements (see distant_net.acks).
    transport.acks = negotiated.encryption_type == COUNTER_NONCE_TYPE

    replay = ReplayBuffer() if replay_bytes is None else ReplayBuffer(replay_bytes)
    frames = _Frames(transport, replay)
    connect_type = decode_connect_type(await frames.receive())
    if isinstance(connect_type, Reconnect):
        cid, offered = connect_type.id, connect_type.otp
        fallback = previous_otp if previous_otp is not None else {}
        # The OTP that last opened this connection stays valid until a reconnection has
        # completed: a link cut right after the new OTP exchange must not lock out the
        # client that never saw its end. A replay after completion is refused.
        accepted = keychain.verify_and_take(cid, offered) or (
            cid in fallback and fallback[cid] == offered
        )
        if not accepted:
            raise AuthenticationError(
                f"reconnect to connection {cid} refused: unknown id or wrong OTP"
            )
        fallback[cid] = offered
        # A reconnection's frames are not counted (§5.3): continue uncounted.
        otp = await _exchange_keys(_Frames(transport, None))
        keychain.insert(cid, otp)
        return Reconnection(cid, offered)

    connection_id = _new_connection_id(is_taken)
    await frames.send(encode_connection_id(connection_id))
    verifier = settings.verifier()
    method = await _server_authenticate(frames, verifier)
    otp = await _exchange_keys(frames)
    keychain.insert(connection_id, otp)
    return NewConnection(connection_id, replay, method)


def _new_connection_id(is_taken: Callable[[int], bool]) -> int:
    while True:
        candidate = secrets.randbits(32)
        if not is_taken(candidate):
            return candidate


async def _server_authenticate(frames: _Frames, verifier: Verifier) -> str | None:
    try:
        for msg in verifier.start():
            await frames.send(AUTHENTICATION.encode(msg))
        while not verifier.succeeded:
            response = AUTHENTICATION_RESPONSE.decode(await frames.receive())
            for msg in verifier.receive(response):
                await frames.send(AUTHENTICATION.encode(msg))
            if verifier.failed:
                # Upstream closes without an auth_error (§4.3, §15.7).
                raise AuthenticationError(
                    f"authentication failed: {verifier.failure_reason or 'no method succeeded'}"
                )
    except AuthProtocolError as exc:
        raise AuthenticationError(f"authentication: {exc}") from None
    return verifier.method
