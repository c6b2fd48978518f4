from __future__ import annotations

import itertools
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distant_codec.errors import CodecError, FrameTooLarge
from distant_codec.frame import (
    DEFAULT_MAX_ITEM_SIZE,
    HEADER_SIZE,
    FrameDecoder,
    encode_frame,
)


def frame_vectors(vectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [v for v in vectors if v["kind"] == "frame"]
    assert found, "vectors.json has no frame vectors"
    return found


def test_frame_vectors_encode(vectors: list[dict[str, Any]]) -> None:
    for vector in frame_vectors(vectors):
        item = vector["item_utf8"].encode()
        assert encode_frame(item) == bytes.fromhex(vector["wire_hex"]), vector["name"]


def test_frame_vectors_decode(vectors: list[dict[str, Any]]) -> None:
    for vector in frame_vectors(vectors):
        decoder = FrameDecoder()
        decoder.feed(bytes.fromhex(vector["wire_hex"]))
        assert list(decoder) == [vector["item_utf8"].encode()], vector["name"]
        assert decoder.buffered == 0
        decoder.eof()


def test_encode_frame_accepts_buffers() -> None:
    assert encode_frame(bytearray(b"hi")) == b"\0\0\0\0\0\0\0\x02hi"
    assert encode_frame(memoryview(b"hi")) == b"\0\0\0\0\0\0\0\x02hi"
    # A non-byte memoryview counts bytes, not elements.
    words = memoryview(struct.pack("<2I", 1, 2)).cast("I")
    assert encode_frame(words)[:HEADER_SIZE] == struct.pack(">Q", 8)


def test_empty_frame_is_delivered_immediately() -> None:
    # Unlike the Rust reader (PROTOCOL.md §2 quirk), a complete empty frame at the end of
    # the buffer is delivered without waiting for another byte.
    decoder = FrameDecoder()
    decoder.feed(bytes(8))
    assert decoder.next_frame() == b""
    assert decoder.next_frame() is None
    assert decoder.buffered == 0


def test_partial_header_and_item() -> None:
    decoder = FrameDecoder()
    wire = encode_frame(b"hello")
    decoder.feed(wire[:3])
    assert decoder.next_frame() is None
    decoder.feed(wire[3:10])
    assert decoder.next_frame() is None
    assert decoder.buffered == 10
    decoder.feed(wire[10:])
    assert decoder.next_frame() == b"hello"
    assert decoder.next_frame() is None


def test_iteration_drains_then_resumes() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(b"a") + encode_frame(b"bb") + encode_frame(b"ccc")[:5])
    assert list(decoder) == [b"a", b"bb"]
    assert list(decoder) == []
    decoder.feed(encode_frame(b"ccc")[5:])
    assert list(decoder) == [b"ccc"]


def test_large_item_through_small_chunks() -> None:
    item = bytes(range(256)) * 1000  # above the small-item copy path
    wire = encode_frame(item) + encode_frame(b"tail")
    decoder = FrameDecoder()
    got: list[bytes] = []
    for i in range(0, len(wire), 997):
        decoder.feed(wire[i : i + 997])
        got.extend(decoder)
    assert got == [item, b"tail"]


def test_oversized_header_raises_before_the_item_arrives() -> None:
    decoder = FrameDecoder()
    decoder.feed(struct.pack(">Q", 2**63))  # only the header: nothing to allocate yet
    with pytest.raises(FrameTooLarge) as info:
        decoder.next_frame()
    assert info.value.length == 2**63
    assert info.value.maximum == DEFAULT_MAX_ITEM_SIZE
    assert isinstance(info.value, CodecError)


def test_max_item_size_boundary() -> None:
    decoder = FrameDecoder(max_item_size=4)
    decoder.feed(encode_frame(b"1234"))
    assert decoder.next_frame() == b"1234"
    decoder.feed(struct.pack(">Q", 5))
    with pytest.raises(FrameTooLarge):
        decoder.next_frame()
    assert FrameDecoder(max_item_size=4).max_item_size == 4


def test_max_item_size_zero_allows_only_empty_frames() -> None:
    decoder = FrameDecoder(max_item_size=0)
    decoder.feed(bytes(8))
    assert decoder.next_frame() == b""
    decoder.feed(struct.pack(">Q", 1))
    with pytest.raises(FrameTooLarge):
        decoder.next_frame()


def test_negative_max_item_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_item_size"):
        FrameDecoder(max_item_size=-1)


def test_eof() -> None:
    decoder = FrameDecoder()
    decoder.eof()  # nothing buffered
    decoder.feed(encode_frame(b"x") + encode_frame(b"yy"))
    decoder.eof()  # complete frames pending are not truncation
    assert list(decoder) == [b"x", b"yy"]
    decoder.feed(b"\0\0\0")
    with pytest.raises(CodecError, match="truncated frame"):
        decoder.eof()
    decoder.feed(b"\0\0\0\0\0\x05ab")
    with pytest.raises(CodecError, match="truncated frame"):
        decoder.eof()


def test_eof_rejects_oversized_pending_header() -> None:
    decoder = FrameDecoder(max_item_size=1)
    decoder.feed(struct.pack(">Q", 2))
    with pytest.raises(FrameTooLarge):
        decoder.eof()


@given(
    items=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_any_chunking_yields_the_same_frames(items: list[bytes], cuts: list[int]) -> None:
    wire = b"".join(encode_frame(item) for item in items)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    decoder = FrameDecoder()
    got: list[bytes] = []
    for start, end in itertools.pairwise(points):
        decoder.feed(memoryview(wire)[start:end])
        got.extend(decoder)
    assert got == items
    assert decoder.buffered == 0
    decoder.eof()


@given(
    chunks=st.lists(st.binary(max_size=64), max_size=20),
    max_item_size=st.integers(min_value=0, max_value=2**64),
)
def test_random_bytes_raise_only_codec_error(chunks: list[bytes], max_item_size: int) -> None:
    decoder = FrameDecoder(max_item_size=max_item_size)
    try:
        for chunk in chunks:
            decoder.feed(chunk)
            for item in decoder:
                assert len(item) <= max_item_size
        decoder.eof()
    except CodecError:
        pass


def test_needed_counts_the_rest_of_a_partial_frame() -> None:
    from distant_codec import FrameDecoder, encode_frame

    frame = encode_frame(b"x" * 1000)
    decoder = FrameDecoder()
    assert decoder.needed == 0
    decoder.feed(frame[:5])
    assert decoder.needed == 0  # no whole header yet
    decoder.feed(frame[5:300])
    assert decoder.needed == len(frame) - 300
    decoder.feed(frame[300:])
    assert decoder.needed == 0
    assert decoder.next_frame() == b"x" * 1000
