"""A blocking client connection, for short-lived processes such as the CLI.

It drives the sans-IO pieces of distant-codec and distant-auth over a plain blocking
socket, and never imports anyio: a one-shot ``distant fs exists`` pays only for what it
uses. It runs the whole bootstrap of §3.1 for a *new* connection (version, codec
negotiation, ConnectType, authentication, OTP exchange) but keeps no replay buffer and
never reconnects; the OTP is derived, as the server requires, and dropped.

Sending is thread-safe (one lock); receiving belongs to one thread at a time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Sequence
from types import TracebackType

from distant_auth import (
    SALT_LENGTH,
    AuthenticationFailed,
    AuthHandler,
    AuthProtocolError,
    ClientAuthenticator,
    Connect,
    HandshakeOptions,
    KeyExchange,
    KeyExchangeData,
    SecretKey,
    choose,
    decode_connection_id,
    drive,
    encode_connect_type,
    validate_choice,
)
from distant_codec import (
    AUTHENTICATION,
    AUTHENTICATION_RESPONSE,
    DEFAULT_MAX_ITEM_SIZE,
    HEADER_SIZE,
    PROTOCOL_VERSION,
    VERSION_BYTES_LEN,
    Codec,
    CodecError,
    PlainCodec,
    ProtocolVersion,
    packb,
    unpackb,
)

from .errors import AuthenticationError, ConnectionClosed, HandshakeError, IncompatibleVersion
from .negotiation import EXTENDED_ENCRYPTION_TYPES, build_codec

__all__ = ["BlockingConnection", "blocking_connect", "connect_unix_blocking"]

_READ_SIZE = 256 * 1024
_IOV_MAX = 512


class BlockingConnection:
    """Frames through a codec over one blocking socket; heartbeats are skipped."""

    def __init__(self, sock: socket.socket, *, max_item_size: int = DEFAULT_MAX_ITEM_SIZE) -> None:
        self.sock = sock
        self.codec: Codec = PlainCodec()
        self.connection_id = 0
        self._buf = bytearray()  # bytes read past the last whole frame
        self._max_item_size = max_item_size
        self._send_lock = threading.Lock()
        self._closed = False

    # -- raw, before framing (the version bytes) ---------------------------------------------

    def _receive_exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    # -- frames ------------------------------------------------------------------------------

    def send(self, item: bytes) -> None:
        """Send one item (thread-safe)."""
        frame = self.codec.encode_framed(item)
        with self._send_lock:
            if self._closed:
                raise ConnectionClosed("the connection is closed")
            try:
                self.sock.sendall(frame)
            except OSError as exc:
                raise ConnectionClosed(f"the connection broke: {exc}") from exc

    def send_parts(self, parts: Sequence[bytes]) -> None:
        """Send one item given as consecutive parts (thread-safe). With the plain codec the
        parts go out by scatter-gather, never joined: a 2 MiB upload chunk is not copied
        again for each layer of envelope around it."""
        if not isinstance(self.codec, PlainCodec):
            self.send(b"".join(parts))
            return
        total = sum(len(part) for part in parts)
        views = [memoryview(total.to_bytes(8, "big"))]
        views += [memoryview(part) for part in parts if part]
        with self._send_lock:
            if self._closed:
                raise ConnectionClosed("the connection is closed")
            try:
                _sendmsg_all(self.sock, views)
            except OSError as exc:
                raise ConnectionClosed(f"the connection broke: {exc}") from exc

    def receive_frame(self) -> bytes | bytearray:
        """The next decoded item, ``b""`` for a heartbeat. :class:`ConnectionClosed` at EOF
        or on a bad frame; ``TimeoutError`` when the socket has a timeout and it passes.

        A frame larger than what is buffered is read straight into a buffer of its exact
        size (``recv_into``), so a large item is copied once, by the kernel."""
        buf = self._buf
        while len(buf) < HEADER_SIZE:
            self._fill()
        size = int.from_bytes(buf[:HEADER_SIZE], "big")
        if size > self._max_item_size:
            raise ConnectionClosed(
                f"bad frame from the peer: {size} bytes is over the {self._max_item_size} limit"
            )
        end = HEADER_SIZE + size
        if len(buf) >= end:
            item: bytes | bytearray = bytes(buf[HEADER_SIZE:end])
            del buf[:end]
        else:
            item = bytearray(size)
            have = len(buf) - HEADER_SIZE
            item[:have] = buf[HEADER_SIZE:]
            buf.clear()
            view = memoryview(item)[have:]
            while view:
                n = self._recv_into(view)
                view = view[n:]
        if not item:
            return b""
        if isinstance(self.codec, PlainCodec):
            return item
        return self.codec.decode(bytes(item))

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(_READ_SIZE)
        except TimeoutError:
            raise
        except OSError as exc:
            raise ConnectionClosed(f"the connection broke: {exc}") from exc
        if not chunk:
            if self._buf:
                raise ConnectionClosed("the connection closed mid-frame")
            raise ConnectionClosed("the peer closed the connection")
        self._buf += chunk

    def _recv_into(self, view: memoryview) -> int:
        try:
            n = self.sock.recv_into(view)
        except TimeoutError:
            raise
        except OSError as exc:
            raise ConnectionClosed(f"the connection broke: {exc}") from exc
        if not n:
            raise ConnectionClosed("the connection closed mid-frame")
        return n

    def receive(self) -> bytes | bytearray:
        """The next non-empty item (heartbeats skipped)."""
        while True:
            item = self.receive_frame()
            if item:
                return item

    def close(self) -> None:
        with self._send_lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def __enter__(self) -> BlockingConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _sendmsg_all(sock: socket.socket, views: list[memoryview]) -> None:
    """``sendall`` for a list of buffers (``sendmsg`` may send only part of them)."""
    while views:
        sent = sock.sendmsg(views[:_IOV_MAX])
        while sent:
            first = views[0]
            if sent >= len(first):
                sent -= len(first)
                views.pop(0)
            else:
                views[0] = first[sent:]
                sent = 0


def connect_unix_blocking(path: str, *, timeout: float | None = None) -> socket.socket:
    """A connected blocking Unix stream socket (``OSError`` if nothing listens there)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def blocking_connect(
    sock: socket.socket,
    handler: AuthHandler,
    *,
    encrypt: bool = False,
    version: ProtocolVersion = PROTOCOL_VERSION,
    max_item_size: int = DEFAULT_MAX_ITEM_SIZE,
) -> BlockingConnection:
    """Bootstrap a new connection over ``sock`` (§3.1) and return it.

    ``encrypt=False`` (the default) picks no encryption, which the Choice allows: meant for
    the private manager socket, where it saves a key exchange and every frame's AEAD. The
    socket's own timeout, if any, bounds each read.
    """
    conn = BlockingConnection(sock, max_item_size=max_item_size)
    try:
        server_version = ProtocolVersion.from_bytes(conn._receive_exactly(VERSION_BYTES_LEN))
        if not version.is_compatible_with(server_version):
            raise IncompatibleVersion(
                f"server protocol {server_version} is not compatible with ours ({version})"
            )
        options = HandshakeOptions.from_msgpack(conn.receive())
        # Our own extension cipher only where acknowledgements are not expected: the
        # blocking client does not speak them, so it sticks to upstream's cipher.
        choice = choose(options, encrypt=encrypt)
        conn.send(choice.to_msgpack())
        negotiated = validate_choice(choice, known_encryption_types=EXTENDED_ENCRYPTION_TYPES)
        key = _exchange_keys(conn) if negotiated.encryption_type is not None else None
        conn.codec = build_codec(negotiated, key, client=True)
        conn.send(encode_connect_type(Connect()))
        conn.connection_id = decode_connection_id(conn.receive())
        _authenticate(conn, handler)
        if key is None:
            _send_public_otp_share(conn)
        else:
            _exchange_keys(conn)  # the OTP: required by the server, unused without reconnects
    except (CodecError, AuthProtocolError) as exc:
        conn.close()
        raise HandshakeError(f"bad handshake from the server: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


# The P-256 generator point, uncompressed (SEC 2, §2.4.2): a valid public key whose private
# key (1) everyone knows.
_P256_GENERATOR = bytes.fromhex(
    "04"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)


def _send_public_otp_share(conn: BlockingConnection) -> None:
    """Step 8 on a link without encryption, without importing ``cryptography``.

    The server insists on an OTP key exchange after authentication; the OTP only ever
    serves to *reconnect*, which this client never does. On a plain link (the manager's
    socket: private by file mode, verifier ``none``) everything the exchange sends is in the
    clear anyway, so an OTP derived from a well-known public point protects nothing less
    than an ephemeral one would: whoever could use it could open a new connection on that
    socket just as well, and the manager keeps no grace period for its clients. Skipping
    the key generation saves the CLI's fast path the ~8 ms of importing the EC code.
    """
    salt = os.urandom(SALT_LENGTH)
    conn.send(packb({"public_key": _P256_GENERATOR, "salt": salt}))
    peer = unpackb(conn.receive())
    if type(peer) is not dict or "public_key" not in peer:
        raise HandshakeError("the server's OTP key exchange is malformed")


def _exchange_keys(conn: BlockingConnection) -> SecretKey:
    kx = KeyExchange()
    conn.send(kx.data.to_msgpack())
    return kx.derive(KeyExchangeData.from_msgpack(conn.receive()))


def _authenticate(conn: BlockingConnection, handler: AuthHandler) -> None:
    authenticator = ClientAuthenticator()
    while not authenticator.finished:
        msg = AUTHENTICATION.decode(conn.receive())
        try:
            answer = drive(authenticator, handler, msg)
        except AuthenticationFailed as exc:
            raise AuthenticationError(str(exc)) from None
        if answer is not None:
            conn.send(AUTHENTICATION_RESPONSE.encode(answer))
