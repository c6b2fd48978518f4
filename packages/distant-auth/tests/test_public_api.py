"""The public API is pinned, and importing the package pulls in no I/O machinery."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import distant_auth

EXPECTED = {
    "AuthProtocolError", "LocalProtocolError", "RemoteProtocolError", "AuthenticationFailed",
    "SecretKey", "SECRET_KEY_LENGTH",
    "HandshakeOptions", "HandshakeChoice", "Negotiated", "UNKNOWN", "COMPRESSION_TYPES",
    "COMPRESSION_LEVELS", "DEFAULT_ENCRYPTION_TYPE", "KNOWN_ENCRYPTION_TYPES",
    "default_server_options", "choose", "validate_choice", "is_known_compression_type",
    "is_known_compression_level", "is_known_encryption_type", "compression_type_name",
    "encryption_type_name",
    "KeyExchange", "KeyExchangeData", "SALT_LENGTH",
    "Connect", "Reconnect", "ConnectType", "encode_connect_type", "decode_connect_type",
    "encode_connection_id", "decode_connection_id",
    "Verifier", "VerifierState", "AuthMethod", "MethodSession", "MethodStep", "MethodOutcome",
    "MethodMessage", "MethodResponse", "NoneMethod", "StaticKeyMethod", "NONE", "STATIC_KEY",
    "STATIC_KEY_LABEL", "STATIC_KEY_CHALLENGE",
    "ClientAuthenticator", "ClientState", "ClientEvent", "ResponseNeeded", "Notice", "Finished",
    "AuthRequest", "AuthNotice", "AuthHandler", "BaseAuthHandler", "DummyHandler",
    "NoneHandler", "StaticKeyHandler", "PromptHandler", "drive",
    "Keychain",
}  # fmt: skip


def test_all_is_pinned_and_importable() -> None:
    assert set(distant_auth.__all__) == EXPECTED
    assert len(distant_auth.__all__) == len(EXPECTED)
    for name in distant_auth.__all__:
        assert getattr(distant_auth, name) is not None


def test_import_is_sans_io() -> None:
    code = (
        "import json, sys, distant_auth\n"
        "print(json.dumps(sorted({'asyncio', 'trio', 'anyio'} & set(sys.modules))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []  # no event loop; the CLI imports this on its fast path


def test_the_readme_examples_run() -> None:
    readme = Path(distant_auth.__file__).resolve().parents[2] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), re.S)
    assert len(blocks) == 2
    exec(blocks[0], {})
    peer_bytes = distant_auth.KeyExchange().data.to_msgpack()
    namespace: dict[str, object] = {"peer_bytes": peer_bytes}
    exec(blocks[1], namespace)
    assert isinstance(namespace["key"], distant_auth.SecretKey)
