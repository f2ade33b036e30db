"""Candidate encodings of paper §5.2.1: progressive shortest vs classic binary (Figure 7).

Progressive shortest encoding ``[k, d_1, ..., d_k]``: k is how many compressible layers (counted
from the second conv layer, search_space layer 1) the encoding covers, then one digit per covered
layer, the operator's index in ``search_space.OPTIONS``. Layers after k run uncompressed
(``conv@1.0``). Runtime3C grows it one digit per layer: layer i's subproblem inherits the
survivor prefix and only chooses digit i, so the string is 1 to N+1 digits long and the backbone
is ``[0]``. Index 0 is ``conv@1.0``, so a covered layer may still be left uncompressed.

Classic binary encoding: N "is layer i compressed" bits, then per layer a fixed-width field with
the index of its compression operator among the 16 compressed options (``conv@1.0`` excluded: it
is what a 0 bit means), i.e. N + N·ceil(log2 M) bits. Every bit string decodes to a valid
configuration, but 2^N·M^N strings name only (M+1)^N configurations: the redundancy the paper's
§6.5.3 comparison is about.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from adaspring_ros.core.model import search_space as ss


class EncodingError(ValueError):
    """An encoding that does not name a configuration of this search space."""


#: Operators a layer can be compressed with (every option except the uncompressed conv).
COMPRESSED_OPTIONS: tuple[str, ...] = tuple(o for o in ss.OPTIONS if o != ss.UNCOMPRESSED)
_COMPRESSED_INDEX = {o: i for i, o in enumerate(COMPRESSED_OPTIONS)}
#: Bits per layer for the operator field of the classic binary encoding.
BINARY_OP_BITS = max(1, math.ceil(math.log2(len(COMPRESSED_OPTIONS))))


def progressive_encode(config: Sequence[str]) -> list[int]:
    """Shortest progressive encoding: cover layers up to the last compressed one."""
    digits = [ss.OPTION_INDEX[op] if op in ss.OPTION_INDEX else _unknown(op) for op in config]
    k = len(digits)
    while k and digits[k - 1] == ss.OPTION_INDEX[ss.UNCOMPRESSED]:
        k -= 1
    return [k] + digits[:k]


def progressive_decode(code: Sequence[int], n_layers: int) -> ss.Configuration:
    """Configuration named by ``[k, d_1..d_k]`` for a backbone with ``n_layers`` compressible."""
    code = list(code)
    if not code:
        raise EncodingError("empty progressive encoding; expected [k, d_1, ..., d_k]")
    k = code[0]
    if not isinstance(k, int) or not 0 <= k <= n_layers:
        raise EncodingError(f"first digit (covered layer count) must be an int in 0..{n_layers}; "
                            f"got {k!r}")
    if len(code) != k + 1:
        raise EncodingError(f"encoding covers {k} layers so it needs {k + 1} digits; "
                            f"got {len(code)}: {code}")
    ops = []
    for i, digit in enumerate(code[1:], start=1):
        if not isinstance(digit, int) or not 0 <= digit < len(ss.OPTIONS):
            raise EncodingError(f"digit for layer {i} must be an operator index in "
                                f"0..{len(ss.OPTIONS) - 1}; got {digit!r}")
        ops.append(ss.OPTIONS[digit])
    return tuple(ops) + (ss.UNCOMPRESSED,) * (n_layers - k)


def binary_length(n_layers: int) -> int:
    return n_layers * (1 + BINARY_OP_BITS)


def binary_encode(config: Sequence[str]) -> list[int]:
    """Classic binary encoding: N compress bits, then N operator fields (MSB first)."""
    flags, fields = [], []
    for op in config:
        if op == ss.UNCOMPRESSED:
            flags.append(0)
            index = 0
        elif op in _COMPRESSED_INDEX:
            flags.append(1)
            index = _COMPRESSED_INDEX[op]
        else:
            _unknown(op)
        fields.extend((index >> b) & 1 for b in reversed(range(BINARY_OP_BITS)))
    return flags + fields


def binary_decode(bits: Sequence[int], n_layers: int) -> ss.Configuration:
    """Configuration named by a classic binary string; op fields of 0-flag layers are ignored."""
    bits = list(bits)
    if len(bits) != binary_length(n_layers):
        raise EncodingError(f"binary encoding for {n_layers} layers needs "
                            f"{binary_length(n_layers)} bits; got {len(bits)}")
    if any(b not in (0, 1) for b in bits):
        raise EncodingError(f"binary encoding must contain only 0/1; got {bits}")
    ops = []
    for layer in range(n_layers):
        if not bits[layer]:
            ops.append(ss.UNCOMPRESSED)
            continue
        start = n_layers + layer * BINARY_OP_BITS
        index = 0
        for b in bits[start:start + BINARY_OP_BITS]:
            index = (index << 1) | b
        # 2^bits may exceed the number of operators; wrap, as a decoder of this format must
        ops.append(COMPRESSED_OPTIONS[index % len(COMPRESSED_OPTIONS)])
    return tuple(ops)


def binary_space_size(n_layers: int) -> int:
    """Distinct bit strings the classic binary encoding can express: 2^(N(1+b))."""
    return 2 ** binary_length(n_layers)


def progressive_space_size(n_layers: int) -> int:
    """Distinct progressive encodings: each configuration has exactly one (no redundancy)."""
    return len(ss.OPTIONS) ** n_layers


def progressive_layer_choices(n_layers: int, choices_per_layer: int) -> int:
    """Encodings a layer-by-layer search inspects: one new digit per layer, O(N·M) not O(M^N)."""
    return n_layers * choices_per_layer


def _unknown(op: str) -> int:
    raise EncodingError(f"unknown operator id {op!r}; valid ids: {', '.join(ss.OPTIONS)}")
