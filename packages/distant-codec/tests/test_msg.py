"""Msg single and batch (§7.1)."""

import pytest

import distant_codec as dc
from distant_codec import requests as rq


def test_single_is_a_map_and_batch_an_array() -> None:
    single = dc.MSG_REQUEST.to_json(dc.Msg.single(rq.Version()))
    batch = dc.MSG_REQUEST.to_json(dc.Msg.batch([rq.Version()]))
    assert single == {"type": "version"}
    assert batch == [{"type": "version"}]
    assert dc.MSG_REQUEST.from_json(batch).is_batch
    assert not dc.MSG_REQUEST.from_json(single).is_batch


def test_value_of_a_batch_is_an_error() -> None:
    with pytest.raises(ValueError, match="batch"):
        _ = dc.Msg.batch([rq.Version()]).value
    with pytest.raises(ValueError, match="exactly one"):
        dc.Msg((), False)


def test_bad_batch_item_names_its_index() -> None:
    with pytest.raises(dc.CodecError, match=r"\[1\]"):
        dc.MSG_REQUEST.from_json([{"type": "version"}, {"type": "nope"}])
