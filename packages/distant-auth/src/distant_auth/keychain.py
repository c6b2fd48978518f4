"""The server's OTP keychain for reconnection (PROTOCOL.md §3.4 step 8, §5.4).

After authentication each connection derives a one-time password; the server files it
under the connection id. A reconnecting client presents ``{"Reconnect": {id, otp}}``; the
server calls :meth:`Keychain.verify_and_take`, which consumes the entry on success, so an
OTP works once. The new exchange that follows a reconnect inserts the next OTP.

Entries never expire, matching upstream distant: a server that runs for a long time with
many short-lived connections should :meth:`Keychain.remove` the entry of a connection it
has dropped for good.
"""

from __future__ import annotations

import hmac

from .secret import SecretKey

__all__ = ["Keychain"]

_U32_MAX = 0xFFFFFFFF


def _check_id(connection_id: int) -> int:
    if type(connection_id) is not int or not 0 <= connection_id <= _U32_MAX:
        raise ValueError("a connection id must be a u32")
    return connection_id


class Keychain:
    """Connection id (u32) → current OTP. Its ``repr`` shows only the number of entries."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, SecretKey] = {}

    def insert(self, connection_id: int, otp: SecretKey) -> None:
        """File ``otp`` for ``connection_id``, replacing any previous one."""
        if not isinstance(otp, SecretKey):
            raise TypeError("an OTP must be a SecretKey")
        self._entries[_check_id(connection_id)] = otp

    def verify_and_take(self, connection_id: int, otp: SecretKey | bytes) -> bool:
        """Whether ``otp`` is the current OTP of ``connection_id``; consume it if so.

        Unknown ids and wrong OTPs return ``False`` and leave the keychain unchanged (a
        wrong guess does not lock out the real client). The comparison is constant time.
        """
        if type(connection_id) is not int:
            return False
        stored = self._entries.get(connection_id)
        if stored is None:
            return False
        presented = otp.expose() if isinstance(otp, SecretKey) else bytes(otp)
        if not hmac.compare_digest(stored.expose(), presented):
            return False
        del self._entries[connection_id]
        return True

    def remove(self, connection_id: int) -> bool:
        """Forget ``connection_id``; whether it had an entry."""
        if type(connection_id) is not int:
            return False
        return self._entries.pop(connection_id, None) is not None

    def __contains__(self, connection_id: object) -> bool:
        return type(connection_id) is int and connection_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Keychain(<{len(self._entries)} entries>)"
