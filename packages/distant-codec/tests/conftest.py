"""Shared fixtures for the distant-codec tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# tests/ -> distant-codec/ -> packages/ -> the checkout; the shared spec sits beside the
# checkout (/work/shared next to /work/main, and shared/ next to the CI checkout).
VECTORS_PATH = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "vectors.json"


@pytest.fixture(scope="session")
def vectors() -> list[dict[str, Any]]:
    """Every entry of ``spec/vectors.json`` (PROTOCOL.md §14), in file order."""
    if not VECTORS_PATH.is_file():
        pytest.fail(f"test vectors not found at {VECTORS_PATH}")
    data = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data
