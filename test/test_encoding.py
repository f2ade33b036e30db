"""Progressive shortest encoding vs classic binary encoding (paper §5.2.1, Figure 7)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.search.encoding import (
    BINARY_OP_BITS,
    COMPRESSED_OPTIONS,
    EncodingError,
    binary_decode,
    binary_encode,
    binary_length,
    binary_space_size,
    progressive_decode,
    progressive_encode,
    progressive_space_size,
)

N = 4
configs = st.lists(st.sampled_from(ss.OPTIONS), min_size=N, max_size=N).map(tuple)


def test_backbone_is_one_digit():
    assert progressive_encode(("conv@1.0",) * N) == [0]
    assert progressive_decode([0], N) == ("conv@1.0",) * N


def test_encoding_covers_up_to_the_last_compressed_layer():
    cfg = ("fire@0.5", "conv@1.0", "skip", "conv@1.0")
    code = progressive_encode(cfg)
    assert code == [3, ss.OPTION_INDEX["fire@0.5"], 0, ss.OPTION_INDEX["skip"]]
    assert len(code) == 4  # k + 1 digits, not N + 1
    assert progressive_encode(("svd@1.0",) + ("conv@1.0",) * 3) == [1, ss.OPTION_INDEX["svd@1.0"]]


@settings(max_examples=200, deadline=None)
@given(configs)
def test_progressive_round_trip_and_length(cfg):
    code = progressive_encode(cfg)
    assert progressive_decode(code, N) == cfg
    assert 1 <= len(code) <= N + 1
    assert len(code) == code[0] + 1


@settings(max_examples=200, deadline=None)
@given(configs)
def test_binary_round_trip_and_fixed_length(cfg):
    bits = binary_encode(cfg)
    assert len(bits) == binary_length(N) == N * (1 + BINARY_OP_BITS)
    assert set(bits) <= {0, 1}
    assert binary_decode(bits, N) == cfg


def test_binary_encoding_is_redundant_where_progressive_is_not():
    cfg = ("conv@1.0", "dws@0.5", "conv@1.0", "conv@1.0")
    bits = binary_encode(cfg)
    flipped = list(bits)
    flipped[N] ^= 1  # an operator bit of layer 1, which is not compressed
    assert flipped != bits and binary_decode(flipped, N) == cfg
    assert binary_space_size(N) == 2 ** (N * (1 + BINARY_OP_BITS))
    assert progressive_space_size(N) == len(ss.OPTIONS) ** N
    assert binary_space_size(N) > 10 * progressive_space_size(N)


def test_compressed_options_fit_the_operator_field():
    assert len(COMPRESSED_OPTIONS) <= 2 ** BINARY_OP_BITS
    assert ss.UNCOMPRESSED not in COMPRESSED_OPTIONS


@pytest.mark.parametrize(("code", "message"), [
    ([], "empty"),
    ([5], "0..4"),
    ([-1], "0..4"),
    ([2, 0], "needs 3 digits"),
    ([1, 99], "operator index"),
    ([1, "fire"], "operator index"),
])
def test_progressive_decode_rejects_bad_codes(code, message):
    with pytest.raises(EncodingError, match=message):
        progressive_decode(code, N)


def test_binary_decode_rejects_bad_strings():
    with pytest.raises(EncodingError, match="needs 20 bits"):
        binary_decode([0] * 19, N)
    with pytest.raises(EncodingError, match="only 0/1"):
        binary_decode([2] + [0] * 19, N)


def test_unknown_operator_is_rejected_by_both_encoders():
    with pytest.raises(EncodingError, match="unknown operator"):
        progressive_encode(("conv@0.3",) * N)
    with pytest.raises(EncodingError, match="unknown operator"):
        binary_encode(("conv@0.3",) * N)
    assert issubclass(EncodingError, ValueError)
