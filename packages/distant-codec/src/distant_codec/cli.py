"""JSON messages of the CLI's interactive ``--format json`` dialogues that are not
authentication messages: the connection picker of ``distant select`` (§12.2)."""

from __future__ import annotations

from typing import ClassVar

from .schema import U64, Struct, TaggedUnion, struct

__all__ = ["SelectPrompt", "Selected", "CliSelectMessage", "CLI_SELECT"]


@struct
class SelectPrompt(Struct):
    """Printed by ``distant select --format json``: the choices and the current index."""

    TAG: ClassVar[str] = "select"
    choices: tuple[str, ...]
    current: U64


@struct
class Selected(Struct):
    """Read back from stdin: the index of the chosen connection."""

    TAG: ClassVar[str] = "selected"
    choice: U64


CliSelectMessage = SelectPrompt | Selected
CLI_SELECT: TaggedUnion[CliSelectMessage] = TaggedUnion(
    "CliSelectMessage", [SelectPrompt, Selected]
)
