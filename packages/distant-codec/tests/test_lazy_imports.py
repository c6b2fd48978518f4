"""The package imports lazily (PEP 562): a submodule loads only what it depends on.

The CLI's fast path imports a handful of these modules and has a budget of a few
milliseconds for them, so each check runs in a fresh interpreter and looks at
``sys.modules``: a new eager import anywhere in the package makes one of them fail.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import distant_codec

# Never on an import path of this package: cryptography waits for the first cipher, and
# the models are not dataclasses (see distant_codec._records).
HEAVY = {"cryptography", "dataclasses", "inspect", "hmac", "secrets", "asyncio", "trio", "anyio"}

# What importing a module may load of this package, exactly.
CORE = {"distant_codec", "distant_codec.lazy", "distant_codec.errors"}
SCHEMA = CORE | {"distant_codec._records", "distant_codec.schema"}
COMMON = SCHEMA | {"distant_codec.common"}
EXPECTED: dict[str, set[str]] = {
    "distant_codec": {"distant_codec", "distant_codec.lazy"},
    "distant_codec.errors": CORE,
    "distant_codec.frame": CORE | {"distant_codec.frame"},
    "distant_codec.codecs": CORE | {"distant_codec.frame", "distant_codec.codecs"},
    "distant_codec.version": CORE | {"distant_codec._records", "distant_codec.version"},
    "distant_codec.schema": SCHEMA,
    "distant_codec.envelope": SCHEMA | {"distant_codec.envelope"},
    "distant_codec.msg": SCHEMA | {"distant_codec.msg"},
    "distant_codec.authentication": SCHEMA | {"distant_codec.authentication"},
    "distant_codec.requests": COMMON | {"distant_codec.msg", "distant_codec.requests"},
    "distant_codec.responses": COMMON | {"distant_codec.msg", "distant_codec.responses"},
    "distant_codec.manager_requests": COMMON
    | {
        "distant_codec.authentication",
        "distant_codec.envelope",
        "distant_codec.options_map",
        "distant_codec.manager_requests",
    },
    "distant_codec.manager_responses": COMMON
    | {
        "distant_codec.authentication",
        "distant_codec.envelope",
        "distant_codec.options_map",
        "distant_codec.manager_responses",
    },
}


def _modules_after(statement: str) -> tuple[set[str], set[str]]:
    """This package's modules, and the other modules, that ``statement`` loads in a fresh
    interpreter (beyond what the interpreter itself starts with)."""
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
    ours = {m for m in loaded if m.split(".")[0] == "distant_codec"}
    return ours, {m.split(".")[0] for m in loaded} - {"distant_codec"}


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_a_submodule_imports_only_what_it_needs(module: str) -> None:
    ours, others = _modules_after(f"import {module}")
    assert ours == EXPECTED[module]
    assert not others & HEAVY


def test_from_imports_load_only_the_defining_submodule() -> None:
    ours, others = _modules_after("from distant_codec import FrameDecoder, encode_frame")
    assert ours == EXPECTED["distant_codec.frame"]
    assert "msgpack" not in others
    ours, _ = _modules_after("from distant_codec import CompressionType, PlainCodec")
    assert ours == EXPECTED["distant_codec.codecs"]
    ours, _ = _modules_after("from distant_codec import MSG_REQUEST")
    assert ours == EXPECTED["distant_codec.requests"]


def test_the_fast_path_modules_import_nothing_heavy() -> None:
    ours, others = _modules_after(
        "import distant_codec.envelope, distant_codec.msg, distant_codec.requests, "
        "distant_codec.responses, distant_codec.manager_requests, "
        "distant_codec.manager_responses, distant_codec.authentication, distant_codec.codecs"
    )
    assert not others & HEAVY
    for unrelated in ("extensions", "plugin", "cli", "destination", "xchacha", "counter_nonce"):
        assert f"distant_codec.{unrelated}" not in ours


def test_using_models_imports_nothing_heavy() -> None:
    """Constructing, comparing, hashing, printing and coding messages compiles their
    methods without ``dataclasses`` or ``inspect``."""
    _, others = _modules_after(
        "import distant_codec as dc\n"
        "from distant_codec import requests as rq\n"
        "r = dc.Request(rq.Exists('/tmp'), id='1')\n"
        "assert r == dc.Request.from_bytes(r.to_bytes(dc.REQUEST), dc.REQUEST)\n"
        "hash(rq.Exists('/')); repr(r); dc.Metadata(file_type=dc.FileType.FILE, len=1,"
        " readonly=False)\n"
        "dc.PlainCodec().encode_framed(b'x'); dc.FrameDecoder().feed(b'')\n"
    )
    assert not others & HEAVY


def test_encryption_imports_cryptography_when_used() -> None:
    _, others = _modules_after("import distant_codec as dc; dc.XChaCha20Poly1305Codec(bytes(32))")
    assert "cryptography" in others


def test_codecs_sizes_match_xchacha() -> None:
    from distant_codec import codecs, xchacha

    assert (codecs.NONCE_SIZE, codecs.TAG_SIZE) == (xchacha.NONCE_SIZE, xchacha.TAG_SIZE)


def _type_checking_imports() -> dict[str, str]:
    """name -> submodule, from the ``if TYPE_CHECKING:`` block of ``__init__.py``."""
    tree = ast.parse(Path(distant_codec.__file__).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    out: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        if node.level == 0:  # from typing import ...
            continue
        for alias in node.names:
            out[alias.asname or alias.name] = node.module or alias.name
    return out


def test_lazy_names_match_what_type_checkers_see() -> None:
    declared = _type_checking_imports()
    assert set(declared) == set(distant_codec.__all__)
    assert len(distant_codec.__all__) == len(set(distant_codec.__all__))
    for name, submodule in declared.items():
        assert distant_codec._MODULE_OF[name] == submodule, name


def test_every_public_name_resolves_to_its_definition() -> None:
    import importlib

    for name in distant_codec.__all__:
        where = distant_codec._MODULE_OF[name]
        submodule = importlib.import_module(f"distant_codec.{where}")
        expected = submodule if where == name else getattr(submodule, name)
        assert getattr(distant_codec, name) is expected, name
    assert set(distant_codec.__all__) <= set(dir(distant_codec))


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        distant_codec.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError):
        from distant_codec import no_such_name  # type: ignore[attr-defined]  # noqa: F401


def test_framing_does_not_need_typing() -> None:
    """Without ``site`` (which may preload it), framing imports neither ``typing`` nor
    ``enum``: a bare interpreter can frame without paying for them."""
    src = str(Path(distant_codec.__file__).resolve().parents[1])
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from distant_codec import FrameDecoder, encode_frame\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src},
    ).stdout
    loaded = set(out.split())
    assert {m for m in loaded if m.startswith("distant_codec")} == EXPECTED["distant_codec.frame"]
    assert not loaded & {"typing", "enum", "msgpack", "re"}
