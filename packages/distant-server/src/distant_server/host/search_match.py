"""Conditions as regular expressions, and matching them against paths and file contents.

Semantics (distant 0.21 through ``grep-searcher``, in Python's ``re`` dialect):

* ``regex`` is used as given; ``contains`` / ``equals`` / ``starts_with`` / ``ends_with``
  are escaped (``equals`` → ``^…$``, ``starts_with`` → ``^…``, ``ends_with`` → ``…$``) and
  ``or`` joins its conditions with ``|``. A pattern that does not compile is an
  ``invalid_input`` error naming it.
* Contents are matched **line by line**: a line never includes its ``\\n`` when matching, so
  ``$`` is the end of the line and no match spans two lines. ``lines`` is the whole matched
  line *including* its ``\\n`` (absent on a last line without one), ``line_number`` is
  1-based, ``absolute_offset`` is the byte offset of the line in the file, and submatch
  ``start``/``end`` are byte offsets into the line. Empty matches right after a previous
  match are dropped (Rust regex's ``find_iter``), so ``.*`` gives one submatch, not two.
* Data that is not UTF-8 is matched as text with the bad bytes decoded as lone surrogates
  (``surrogateescape``) and reported as bytes (``MatchData`` bytes); valid text as ``str``.
* Binary files: a file found by the walk (not named in ``paths``) is searched only up to its
  first NUL byte (grep-searcher's ``BinaryDetection::quit``); a file named explicitly has its
  NUL bytes read as line breaks (``BinaryDetection::convert``), as upstream does.
* Paths are matched as one line (the path string, non-UTF-8 names shown lossily with
  U+FFFD).

Scanning a file is a generator that yields ``None`` "ticks" between bounded pieces of work, so
the caller can check for cancellation and time budgets. To stay fast without ever running
one long ``re`` call (which holds the GIL and would stall the event loop), candidate lines
are found by searching windows of whole lines with a ``MULTILINE`` copy of the pattern,
adapting the window so each call takes about a millisecond; every candidate is then
confirmed on its line alone. Patterns whose meaning could differ between a window and a lone
line (``\\A``, ``\\Z``, lookarounds) skip that prefilter and check every line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from distant_codec import common as c
from distant_server.errors import ApiError

__all__ = [
    "condition_regex",
    "compile_condition",
    "LineMatcher",
    "lossy",
    "match_data",
]

_CHUNK = 256 * 1024
_MIN_WINDOW = 512
_MAX_WINDOW = 1 << 20
_LINES_PER_TICK = 256
# Constructs whose result can differ between a window of lines and one line on its own.
_UNSAFE_FOR_PREFILTER = re.compile(r"\\[AZ]|\(\?<?[=!]")


def condition_regex(condition: c.Condition) -> str:
    """The regular expression of a condition (upstream's ``to_regex_string``)."""
    if isinstance(condition, c.Regex):
        return condition.value
    if isinstance(condition, c.Contains):
        return re.escape(condition.value)
    if isinstance(condition, c.Equals):
        return f"^{re.escape(condition.value)}$"
    if isinstance(condition, c.StartsWith):
        return f"^{re.escape(condition.value)}"
    if isinstance(condition, c.EndsWith):
        return f"{re.escape(condition.value)}$"
    return "|".join(condition_regex(sub) for sub in condition.value)


def compile_condition(condition: c.Condition, flags: int = 0) -> re.Pattern[str]:
    """Compile a condition; a bad pattern is an ``invalid_input`` error naming it."""
    pattern = condition_regex(condition)
    try:
        return re.compile(pattern, flags)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ApiError(c.ErrorKind.INVALID_INPUT, f"invalid regex {pattern!r}: {exc}") from None


def lossy(text: str) -> str:
    """``text`` (possibly holding surrogate escapes from the OS) as valid UTF-8 text."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def match_data(text: str) -> c.MatchData:
    """``text`` decoded with ``surrogateescape`` as MatchData: str if it is UTF-8, else bytes."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text


def _byte_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogateescape"))


class LineMatcher:
    """The search condition, matched against paths and lines."""

    def __init__(self, condition: c.Condition) -> None:
        self.pattern = compile_condition(condition)
        self.regex = self.pattern.pattern
        self.prefilter: re.Pattern[str] | None = None
        if not _UNSAFE_FOR_PREFILTER.search(self.regex):
            self.prefilter = re.compile(self.regex, re.MULTILINE)
        self._window = 16 * 1024

    def submatches(self, line: str) -> list[c.Submatch]:
        """Every match in ``line`` (without its line break), as byte offsets."""
        found: list[c.Submatch] = []
        last_end = -1
        one_to_one = line.isascii()
        for m in self.pattern.finditer(line):
            start, end = m.span()
            if start == end == last_end:
                continue
            last_end = end
            text = m.group()
            if one_to_one:
                found.append(c.Submatch(text, start, end))
            else:
                b_start = _byte_len(line[:start])
                found.append(c.Submatch(match_data(text), b_start, b_start + _byte_len(text)))
        return found

    def match_path(self, path: str) -> c.PathMatch | None:
        """``path`` (already lossy) as a path match, if the condition matches it."""
        subs = self.submatches(path)
        return c.PathMatch(path, tuple(subs)) if subs else None

    # -- contents ----------------------------------------------------------------------

    def scan_file(
        self, path: str, shown: str, *, explicit: bool
    ) -> Iterator[c.ContentsMatch | None]:
        """The matching lines of the file at ``path`` (reported as ``shown``); ``None``
        between pieces of work. Unreadable files yield nothing."""
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below, across yields
        except OSError:
            return
        try:
            offset = 0
            line_number = 1
            carry = b""
            while True:
                try:
                    data = f.read(_CHUNK)
                except OSError:
                    return
                eof = not data
                if data:
                    if explicit:
                        data = data.replace(b"\0", b"\n")
                    else:
                        nul = data.find(b"\0")
                        if nul >= 0:
                            data, eof = data[:nul], True
                buf = carry + data if carry else data
                if eof:
                    block, carry = buf, b""
                else:
                    cut = buf.rfind(b"\n") + 1
                    if cut == 0:
                        carry = buf
                        yield None
                        continue
                    block, carry = buf[:cut], buf[cut:]
                if block:
                    yield from self._scan_block(block, shown, offset, line_number)
                    offset += len(block)
                    line_number += block.count(b"\n")
                if eof:
                    return
                yield None
        finally:
            f.close()

    def _scan_block(
        self, block: bytes, shown: str, base_offset: int, base_line: int
    ) -> Iterator[c.ContentsMatch | None]:
        """Matches in ``block``, whole lines starting at byte ``base_offset`` of the file."""
        text = block.decode("utf-8", "surrogateescape")
        size = len(text)
        one_to_one = size == len(block)  # every character is one byte
        # Where we are, to turn character positions into byte offsets and line numbers.
        at_char, at_byte, at_line = 0, 0, base_line
        prefilter = self.prefilter
        pos = 0
        checked = 0
        while pos < size:
            if prefilter is not None:
                end = text.find("\n", min(pos + self._window, size - 1))
                end = size if end < 0 else end + 1
                started = time.perf_counter()
                m = prefilter.search(text, pos, end)
                self._adapt(time.perf_counter() - started)
                if m is None:
                    pos = end
                    yield None
                    continue
                line_start = text.rfind("\n", pos, m.start()) + 1 or pos
                if line_start >= size:  # an empty match after the block's last line break
                    break
            else:
                line_start = pos
                checked += 1
                if checked % _LINES_PER_TICK == 0:
                    yield None
            line_end = text.find("\n", line_start)
            if line_end < 0:
                line_end = next_pos = size
            else:
                next_pos = line_end + 1
            subs = self.submatches(text[line_start:line_end])
            if subs:
                if one_to_one:
                    at_byte = line_start
                else:
                    at_byte += _byte_len(text[at_char:line_start])
                at_line += text.count("\n", at_char, line_start)
                at_char = line_start
                yield c.ContentsMatch(
                    shown,
                    match_data(text[line_start:next_pos]),
                    at_line,
                    base_offset + at_byte,
                    tuple(subs),
                )
            pos = next_pos

    def _adapt(self, elapsed: float) -> None:
        """Keep each window search around a millisecond (it holds the GIL)."""
        if elapsed < 0.0005:
            self._window = min(self._window * 2, _MAX_WINDOW)
        elif elapsed > 0.002:
            self._window = max(self._window // 4, _MIN_WINDOW)
