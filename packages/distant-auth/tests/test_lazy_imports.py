"""The package imports lazily (PEP 562): a submodule loads only what it depends on.

The CLI's fast path imports the handshake, connect-type, client and key-exchange modules,
so each check runs in a fresh interpreter and looks at ``sys.modules``: a new eager import
anywhere in the package (or of ``cryptography``) makes one of them fail.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import distant_auth

HEAVY = {"cryptography", "dataclasses", "inspect", "hmac", "secrets", "asyncio", "trio", "anyio"}

CODEC_SCHEMA = {"distant_codec", "distant_codec.errors", "distant_codec._records",
                "distant_codec.schema"}  # fmt: skip
# Every package's lazy ``__init__`` uses distant_codec.lazy (which imports nothing else).
LAZY = {"distant_codec", "distant_codec.lazy"}
EXPECTED: dict[str, set[str]] = {
    "distant_auth": {"distant_auth"},
    "distant_auth.secret": {"distant_auth", "distant_auth.secret"},
    "distant_auth.handshake": CODEC_SCHEMA
    | {"distant_codec.frame", "distant_codec.codecs"}
    | {"distant_auth", "distant_auth.errors", "distant_auth.handshake"},
    "distant_auth.connect_type": CODEC_SCHEMA
    | {"distant_auth", "distant_auth.secret", "distant_auth.connect_type"},
    "distant_auth.client": CODEC_SCHEMA
    | {"distant_codec.authentication"}
    | {"distant_auth", "distant_auth.errors", "distant_auth.client"},
    "distant_auth.key_exchange": CODEC_SCHEMA
    | {"distant_auth", "distant_auth.errors", "distant_auth.secret", "distant_auth.key_exchange"},
    "distant_auth.handler": CODEC_SCHEMA
    | {"distant_codec.authentication"}
    | {"distant_auth", "distant_auth.errors", "distant_auth.secret", "distant_auth.client"}
    | {"distant_auth.methods", "distant_auth.handler"},
}


def _modules_after(statement: str) -> tuple[set[str], set[str]]:
    """This project's modules, and the other top-level packages, that ``statement`` loads
    in a fresh interpreter (beyond what the interpreter itself starts with)."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"{statement}\n"
        "after = sorted(set(sys.modules) - before)\n"
        "import json\n"
        "print(json.dumps(after))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    ours = {m for m in loaded if m.split(".")[0] in ("distant_auth", "distant_codec")}
    return ours, {m.split(".")[0] for m in loaded} - {"distant_auth", "distant_codec"}


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_a_submodule_imports_only_what_it_needs(module: str) -> None:
    ours, others = _modules_after(f"import {module}")
    assert ours == EXPECTED[module] | LAZY
    assert not others & HEAVY


def test_from_imports_load_only_the_defining_submodule() -> None:
    ours, others = _modules_after("from distant_auth import AuthHandler, NoneHandler")
    assert ours == EXPECTED["distant_auth.handler"] | LAZY
    assert not others & HEAVY


def test_the_fast_path_modules_import_nothing_heavy() -> None:
    ours, others = _modules_after(
        "import distant_auth.handshake, distant_auth.connect_type, distant_auth.client, "
        "distant_auth.key_exchange, distant_auth.handler"
    )
    assert not others & HEAVY
    assert "distant_auth.verifier" not in ours and "distant_auth.keychain" not in ours


def test_cryptography_is_imported_by_the_key_exchange_itself() -> None:
    _, others = _modules_after(
        "from distant_auth.key_exchange import KeyExchange\n"
        "a, b = KeyExchange(), KeyExchange()\n"
        "assert a.derive(b.data) == b.derive(a.data)\n"
    )
    assert "cryptography" in others


def test_lazy_names_match_what_type_checkers_see() -> None:
    tree = ast.parse(Path(distant_auth.__file__).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    declared: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module
        if node.level == 0:  # from typing import ...
            continue
        for alias in node.names:
            declared[alias.asname or alias.name] = node.module
    assert set(declared) == set(distant_auth.__all__)
    for name, submodule in declared.items():
        assert distant_auth._MODULE_OF[name] == submodule, name
        defining = importlib.import_module(f"distant_auth.{submodule}")
        assert getattr(distant_auth, name) is getattr(defining, name), name
    assert set(distant_auth.__all__) <= set(dir(distant_auth))


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        distant_auth.no_such_name  # type: ignore[attr-defined]  # noqa: B018
