"""Codec benchmark (issue: Foundation).

Per-frame encode + decode through the full chain: a response envelope with a
``Msg<Response>`` payload (``proc_stdout`` carrying N bytes), msgpack, XChaCha20-Poly1305 and
the u64 frame header, then back through the incremental frame decoder, decryption, the
positional envelope parser and the typed payload decoder.

Anchor, measured in the same run: the bare ``cryptography`` ChaCha20Poly1305 encrypt +
decrypt of the same N bytes with a fixed 12-byte nonce (no envelope, no framing, no
HChaCha20 subkey). Target: the full chain within 1.3x of the bare AEAD for 64 KiB.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

import distant_codec as dc
from distant_codec import responses as rs

from ._report import header, per_call_seconds, row

SIZES = [("100 B", 100), ("64 KiB", 64 * 1024)]
TARGET_64K = 1.3


def full_chain(size: int) -> tuple[object, int]:
    key = os.urandom(32)
    codec = dc.XChaCha20Poly1305Codec(key)
    payload = dc.Msg.single(rs.ProcStdout(id=7, data=os.urandom(size)))
    decoder = dc.FrameDecoder()

    def once() -> None:
        item = dc.Response("1234567890", payload, id="987654321").to_bytes(dc.MSG_RESPONSE)
        wire = codec.encode_framed(item)
        decoder.feed(wire)
        item = decoder.next_frame()
        assert item is not None
        out = dc.Response.from_bytes(codec.decode(item), dc.MSG_RESPONSE)
        assert len(out.payload.value.data) == size  # type: ignore[union-attr]

    return once, size


def bare_aead(size: int) -> object:
    aead = ChaCha20Poly1305(os.urandom(32))
    nonce = os.urandom(12)
    data = os.urandom(size)

    def once() -> None:
        aead.decrypt(nonce, aead.encrypt(nonce, data, None), None)

    return once


def main() -> list[tuple[str, float, float]]:
    print(header("codec: encode+decode per frame (envelope + msgpack + XChaCha20-Poly1305)",
                 "full chain", "bare AEAD"))  # fmt: skip
    results = []
    for label, size in SIZES:
        fn, _ = full_chain(size)
        anchor_fn = bare_aead(size)
        ours = per_call_seconds(fn)  # type: ignore[arg-type]
        anchor = per_call_seconds(anchor_fn)  # type: ignore[arg-type]
        ratio = ours / anchor
        mbps_ours = size / ours / 1e6
        mbps_anchor = size / anchor / 1e6
        target = f"<= {TARGET_64K}x" if size == 64 * 1024 else ""
        ok = ratio <= TARGET_64K if size == 64 * 1024 else None
        print(row(f"{label} frame, us per frame", f"{ours * 1e6:.2f} us", f"{anchor * 1e6:.2f} us",
                  ratio, target=target, ok=ok))  # fmt: skip
        print(row(f"{label} frame, throughput", f"{mbps_ours:.1f} MB/s", f"{mbps_anchor:.1f} MB/s",
                  mbps_anchor / mbps_ours))  # fmt: skip
        results.append((label, ours, anchor))
    return results


if __name__ == "__main__":
    main()
