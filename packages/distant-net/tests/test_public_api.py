"""Pins the public API of distant_net: every exported name exists, and nothing in the
package imports trio or asyncio directly."""

import pathlib
import re

import distant_net


def test_exports_resolve() -> None:
    for name in distant_net.__all__:
        assert hasattr(distant_net, name), name
    assert len(set(distant_net.__all__)) == len(distant_net.__all__)


def test_no_direct_event_loop_imports() -> None:
    src = pathlib.Path(distant_net.__file__).parent
    for path in src.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(trio|asyncio)\b", text, re.M), path.name


def test_blocking_client_does_not_import_anyio() -> None:
    """The CLI's fast path relies on this: importing anyio costs ~100 ms."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from distant_net import blocking_connect, connect_unix_blocking, ConnectionClosed\n"
        "bad = sorted(m for m in ('anyio', 'trio', 'asyncio') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
