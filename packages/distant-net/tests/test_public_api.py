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
