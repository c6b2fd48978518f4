"""Opening a client connection, and keeping it alive with a reconnect strategy (§5.4)."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc

from distant_auth import NoneHandler, SecretKey
from distant_codec import DEFAULT_MAX_ITEM_SIZE, CodecError

from .auth_handler import AsyncAuthHandler, SyncHandlerAdapter
from .connection import DEFAULT_SILENCE, Connection
from .errors import AuthenticationError, ConnectionClosed, HandshakeError, ReconnectFailed
from .framed import TRANSPORT_ERRORS, FramedTransport
from .handshake import ClientSettings, client_connect, client_reconnect
from .reconnect import ExponentialBackoff, Fail, ReconnectStrategy
from .replay import DEFAULT_BACKUP_BYTES, ReplayBuffer

__all__ = ["Dialer", "open_connection"]

log = logging.getLogger("distant_net.client")

Dialer = Callable[[], Awaitable[anyio.abc.ByteStream]]
"""Opens a new byte stream to the server (the same address every time)."""

DEFAULT_ATTEMPT_TIMEOUT = 30.0
"""Seconds one reconnect attempt may take when the strategy sets no ``timeout``."""

_ATTEMPT_ERRORS = (*TRANSPORT_ERRORS, CodecError, HandshakeError, TimeoutError)


@asynccontextmanager
async def open_connection(
    dial: Dialer,
    *,
    handler: AsyncAuthHandler | None = None,
    settings: ClientSettings | None = None,
    strategy: ReconnectStrategy | None = None,
    silence: float | None = DEFAULT_SILENCE,
    connect_timeout: float | None = None,
    max_item_size: int = DEFAULT_MAX_ITEM_SIZE,
    replay_bytes: int = DEFAULT_BACKUP_BYTES,
) -> AsyncIterator[Connection]:
    """Connect, authenticate, and yield a :class:`Connection` that reconnects by itself.

    ``replay_bytes`` bounds the backup of sent frames kept for replay (§5.4); 0 keeps none,
    for links that cannot be re-established (an in-process server).

    ``strategy`` defaults to exponential backoff (1 s doubling to 10 s), as the manager
    uses upstream. A wrong key surfaces as :class:`AuthenticationError`.
    """
    handler = handler or SyncHandlerAdapter(NoneHandler())
    strategy = strategy if strategy is not None else ExponentialBackoff()
    with anyio.fail_after(connect_timeout if connect_timeout is not None else math.inf):
        transport = FramedTransport(await dial(), max_item_size=max_item_size)
        replay = ReplayBuffer(replay_bytes)
        try:
            connection_id, otp = await client_connect(
                transport, handler=handler, replay=replay, settings=settings
            )
        except anyio.EndOfStream:
            await transport.aclose()
            raise AuthenticationError(
                "the server closed the connection during the handshake (wrong key?)"
            ) from None
        except BaseException:
            await transport.aclose()
            raise
    async with Connection(connection_id, replay, silence=silence, name="client") as conn:
        await conn.attach(transport, synchronize_first=False)
        reconnector = _Reconnector(dial, otp, settings, strategy, max_item_size)
        conn.start_background(reconnector.keep_alive, conn)
        yield conn


class _Reconnector:
    """Re-establishes a client connection whenever its link is lost (§5.4)."""

    def __init__(
        self,
        dial: Dialer,
        otp: SecretKey,
        settings: ClientSettings | None,
        strategy: ReconnectStrategy,
        max_item_size: int,
    ) -> None:
        self.dial = dial
        # The OTPs that may open the connection, the one to offer first in front. After a
        # reconnection that failed once both sides had the new OTP, the client cannot
        # know which of the old and the new the server still accepts (the server may not
        # have derived the new one; or it may have completed and dropped the old one),
        # but one of them always works: keep both, and offer the other after a failure.
        self.otps = [otp]
        self.settings = settings
        self.strategy = strategy
        self.max_item_size = max_item_size

    async def keep_alive(self, conn: Connection) -> None:
        """Whenever the link is lost, re-establish it, or close the connection for good."""
        while True:
            await conn.wait_lost()
            if conn.closed:
                return
            try:
                attempts = await self._reestablish(conn)
            except ConnectionClosed:
                return  # closed locally while an attempt was attaching: nothing to do
            if attempts is not None:
                await conn.aclose(
                    f"reconnect failed after {attempts} attempt(s)", error=ReconnectFailed
                )
                return

    async def _reestablish(self, conn: Connection) -> int | None:
        """Try until reconnected (returns None) or out of attempts (returns how many)."""
        strategy = self.strategy
        if isinstance(strategy, Fail):
            return 0
        # Without a per-attempt bound, a link that stops forwarding in the middle of a
        # reconnect handshake would hang the attempt for ever.
        timeout = strategy.timeout if strategy.timeout is not None else DEFAULT_ATTEMPT_TIMEOUT
        delays = strategy.delays()  # the sleeps *between* attempts; the first is immediate
        attempt = 0
        while not conn.closed:
            attempt += 1
            try:
                with anyio.fail_after(timeout):
                    await self._once(conn)
            except _ATTEMPT_ERRORS as exc:
                log.info("%r: reconnect attempt %d failed: %r", conn, attempt, exc)
            else:
                log.info("%r: reconnected after %d attempt(s)", conn, attempt)
                return None
            delay = next(delays, None)
            if delay is None:
                return attempt
            await anyio.sleep(delay)
        return None

    @property
    def otp(self) -> SecretKey:
        """The OTP the next attempt offers."""
        return self.otps[0]

    async def _once(self, conn: Connection) -> None:
        transport = FramedTransport(await self.dial(), max_item_size=self.max_item_size)
        offered = self.otps[0]
        try:
            try:
                new = await client_reconnect(
                    transport, connection_id=conn.id, otp=offered, settings=self.settings
                )
            except BaseException:
                # Refused, or cut before the new OTP: maybe the server only knows the
                # other candidate (this one is kept: it may still be valid as well).
                self.otps.append(self.otps.pop(0))
                raise
            # The server accepts ``offered`` until its side of the reconnection completes,
            # and ``new`` once it has derived it; either may be the only one left if the
            # link dies before synchronize is done.
            self.otps = [new, offered]
            await conn.attach(transport, synchronize_first=True)
            self.otps = [new]
        except BaseException:
            await transport.aclose()
            raise
