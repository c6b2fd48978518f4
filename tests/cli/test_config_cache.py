"""The cache file (§12.5): ``selected = "<id>"``; read without tomllib when it is ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from distant_cli.cache import read_selected, write_selected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('selected = "123"\n', 123),
        ('selected="7"', 7),
        ('# written by hand\nselected = "8"\n', 8),
        ("selected = 9\n", 9),
        ('selected = "²"\n', 0),
        ('selected = "x"\n', 0),
        ("not toml [", 0),
        ("", 0),
    ],
)
def test_read_selected(tmp_path: Path, text: str, expected: int) -> None:
    path = tmp_path / "cache.toml"
    path.write_text(text)
    assert read_selected(str(path)) == expected


def test_write_then_read(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.toml"
    assert read_selected(str(path)) == 0
    write_selected(str(path), 4294967295)
    assert path.read_text() == 'selected = "4294967295"\n'
    assert read_selected(str(path)) == 4294967295
