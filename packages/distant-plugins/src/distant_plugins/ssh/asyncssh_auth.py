"""Authentication for the asyncssh backend: host keys against known_hosts (unknown keys
asked to the user, changed keys refused), passwords, keyboard-interactive prompts and key
passphrases relayed as challenges through the :class:`~distant_net.AsyncAuthHandler`.

asyncssh's ``validate_host_public_key`` hook is synchronous, so it cannot wait for the
user: the first attempt records the unknown key and fails; the key is then shown to the
user and, if accepted, the connection is made again trusting exactly that key (a server
presenting another key the second time fails as unverifiable).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio.to_thread
import asyncssh

from distant_codec import AuthChallenge, AuthVerification, Question, VerificationKind
from distant_net import AsyncAuthHandler

from .bridge import Bridge

__all__ = ["ClientAuth", "DEFAULT_KNOWN_HOSTS", "HostKeyCheck", "known_host_entry"]

log = logging.getLogger("distant_plugins.ssh")

DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")


def host_pattern(host: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts (``[host]:port`` unless port 22)."""
    return host if port == 22 else f"[{host}]:{port}"


def known_host_entry(host: str, port: int, key: asyncssh.SSHKey) -> str:
    return f"{host_pattern(host, port)} {key.export_public_key('openssh').decode().strip()}\n"


@dataclass
class HostKeyCheck:
    """The known_hosts policy of one connect attempt."""

    host: str
    port: int
    files: tuple[str, ...]
    accepted: list[asyncssh.SSHKey] = field(default_factory=list)
    unknown: asyncssh.SSHKey | None = None
    """The key the server presented when it was not trusted (set by the client hook)."""

    def presented(self) -> asyncssh.SSHKey | None:
        """The untrusted key the last attempt saw, if any."""
        return self.unknown

    def existing_files(self) -> list[str]:
        found = []
        for name in self.files:
            path = os.path.expanduser(name)
            if os.path.isfile(path) and os.access(path, os.R_OK):
                found.append(path)
        return found

    def known_hosts(self) -> asyncssh.SSHKnownHosts:
        """The trusted keys: every known_hosts file plus the keys accepted by the user."""
        parts = []
        for path in self.existing_files():
            with open(path, encoding="utf-8", errors="replace") as f:
                parts.append(f.read().rstrip("\n") + "\n")
        for key in self.accepted:
            parts.append(known_host_entry(self.host, self.port, key))
        return asyncssh.import_known_hosts("".join(parts))

    def has_known_key(self, addr: str) -> bool:
        """Whether known_hosts names any key for this host (then another key is a mismatch)."""
        trusted = asyncssh.match_known_hosts(self.known_hosts(), self.host, addr, self.port)
        return bool(trusted[0]) or bool(trusted[1])

    def persist(self, key: asyncssh.SSHKey) -> None:
        """Add an accepted key to the first known_hosts file, as OpenSSH does."""
        if not self.files:
            return
        path = os.path.expanduser(self.files[0])
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(known_host_entry(self.host, self.port, key))
        except OSError as exc:
            log.warning("could not add the host key to %s: %s", path, exc)


def _fingerprint_text(check: HostKeyCheck, key: asyncssh.SSHKey) -> str:
    name = host_pattern(check.host, check.port)
    kind = key.get_algorithm().removeprefix("ssh-").upper()
    return (
        f"The authenticity of host '{name}' can't be established.\n"
        f"{kind} key fingerprint is {key.get_fingerprint('sha256')}.\n"
        "Are you sure you want to continue connecting (yes/no)?"
    )


async def ask_host_key(auth: AsyncAuthHandler, check: HostKeyCheck, key: asyncssh.SSHKey) -> bool:
    reply = await auth.on_verification(
        AuthVerification(VerificationKind.HOST, _fingerprint_text(check, key))
    )
    return bool(reply.valid)


class ClientAuth(asyncssh.SSHClient):
    """asyncssh's client callbacks, relaying prompts to ``auth`` (anyio code) through the
    bridge."""

    def __init__(
        self,
        bridge: Bridge,
        auth: AsyncAuthHandler,
        check: HostKeyCheck,
        encrypted_keys: Sequence[str],
        username: str,
    ) -> None:
        self._bridge = bridge
        self._auth = auth
        self._check = check
        self._encrypted = list(encrypted_keys)
        self._username = username
        self.refused_passphrase = False

    # -- host key ---------------------------------------------------------------------------

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        # Called only for a key that known_hosts does not trust.
        self._check.unknown = key
        return False

    # -- prompts ----------------------------------------------------------------------------

    async def _ask(self, questions: list[tuple[str, bool]], instructions: str = "") -> list[str]:
        qs = tuple(
            Question(label="ssh-prompt", text=text, options={"echo": "true" if echo else "false"})
            for text, echo in questions
        )
        options = {"instructions": instructions, "username": self._username}
        reply = await self._bridge.call_anyio(
            self._auth.on_challenge, AuthChallenge(questions=qs, options=options)
        )
        return list(reply.answers)

    def password_auth_supported(self) -> bool:
        return True

    async def password_auth_requested(self) -> str | None:
        answers = await self._ask([(f"{self._username}'s password: ", False)])
        return answers[0] if answers else None

    def kbdint_auth_supported(self) -> bool:
        return True

    async def kbdint_challenge_received(
        self, name: str, instructions: str, lang: str, prompts: Sequence[tuple[str, bool]]
    ) -> list[str] | None:
        if not prompts:
            return []
        text = "\n".join(part for part in (name, instructions) if part)
        return await self._ask(list(prompts), text)

    async def public_key_auth_requested(self) -> asyncssh.SSHKey | None:
        """Encrypted identity files, one at a time, each after asking its passphrase."""
        while self._encrypted:
            path = self._encrypted.pop(0)
            answers = await self._ask([(f"Enter passphrase for key '{path}': ", False)])
            if not answers:
                continue
            try:
                # The key's KDF (bcrypt rounds) is CPU work: off the event loop, which every
                # other connection of the manager shares.
                return await self._bridge.call_anyio(_read_key_in_worker, path, answers[0])
            except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, OSError) as exc:
                log.warning("cannot use key %s: %s", path, exc)
                self.refused_passphrase = True
        return None


async def _read_key_in_worker(path: str, passphrase: str) -> asyncssh.SSHKey:
    return await anyio.to_thread.run_sync(asyncssh.read_private_key, path, passphrase)


def split_identities(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(plain, encrypted)`` readable private key files among ``paths`` (expanded)."""
    plain: list[str] = []
    encrypted: list[str] = []
    for name in paths:
        path = os.path.expanduser(name)
        if not os.path.isfile(path):
            continue
        try:
            asyncssh.read_private_key(path)
        except asyncssh.KeyEncryptionError:
            encrypted.append(path)
            continue
        except asyncssh.KeyImportError as exc:
            if "passphrase" in str(exc).lower():  # asyncssh's way to say "encrypted"
                encrypted.append(path)
            else:
                log.warning("ignoring identity file %s: %s", path, exc)
            continue
        except OSError as exc:
            log.warning("ignoring identity file %s: %s", path, exc)
            continue
        plain.append(path)
    return plain, encrypted
