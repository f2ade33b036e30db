"""The compression search space: which operator each conv layer may take, and its exact cost.

This module is the contract between the self-evolutionary network (which builds torch modules for
each choice), the profile (which measures them) and Runtime3C (which searches over them). The
costs here are analytic and exact: C (multiply-accumulates), Sp (parameter bytes) and Sa
(activation bytes) of any configuration, with no torch needed, so the search can price thousands
of candidates per millisecond. `supernet` tests that the built modules have exactly these counts.

Operator ids, one per compressible conv layer (paper §4.1):
  ``conv@w``  the backbone 3x3 conv; ``conv@1.0`` is "uncompressed", w < 1 is δ3 channel scaling
  ``fire@w``  δ1 Fire-style squeeze (1x1) / expand (1x1 + 3x3) channel merging (+ δ3 at w < 1)
  ``svd@w``   δ2 low-rank factorisation: 3x3 conv to rank r, then 1x1 to the outputs (+ δ3)
  ``dws@w``   δ2 depthwise-separable factorisation: depthwise 3x3, then pointwise 1x1 (+ δ3)
  ``skip``    δ4 depth scaling: the layer is bypassed (identity, or a 1x1 adapter when the
              channel count changes)
The width w keeps the first round(w * C_out) output channels, which training orders by learned
importance (slimmable / once-for-all style), so scaling down and back up needs no retraining.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

BYTES_PER_VALUE = 4  # float32 weights and activations, as run by torch on the CPU

WIDTHS: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25)
STRUCTURES: tuple[str, ...] = ("conv", "fire", "svd", "dws")
SKIP = "skip"
UNCOMPRESSED = "conv@1.0"

#: Which paper operator (δ1..δ4) each structure realises; δ3 is any width below 1.
PAPER_OPERATOR = {"conv": "δ3", "fire": "δ1", "svd": "δ2", "dws": "δ2", SKIP: "δ4"}


def option_id(structure: str, width: float) -> str:
    return f"{structure}@{width:g}" if width != 1.0 else f"{structure}@1.0"


#: Every operator id a compressible layer may take, in a fixed order (index = encoding digit).
OPTIONS: tuple[str, ...] = tuple(
    option_id(s, w) for s in STRUCTURES for w in WIDTHS
) + (SKIP,)
OPTION_INDEX: dict[str, int] = {o: i for i, o in enumerate(OPTIONS)}


def parse_option(option: str) -> tuple[str, float]:
    """Split ``"fire@0.5"`` into ("fire", 0.5); ``"skip"`` into ("skip", 1.0)."""
    if option == SKIP:
        return SKIP, 1.0
    if option not in OPTION_INDEX:
        raise ValueError(f"unknown operator id {option!r}; valid ids: {', '.join(OPTIONS)}")
    structure, width = option.split("@")
    return structure, float(width)


def paper_operators(option: str) -> list[str]:
    """The paper's operator names an option combines, e.g. fire@0.5 -> ['δ1', 'δ3']."""
    structure, width = parse_option(option)
    ops = [PAPER_OPERATOR[structure]]
    if structure != "conv" and width < 1.0:
        ops.append("δ3")
    return ops


@dataclass(frozen=True)
class ConvLayerSpec:
    """One backbone conv layer: 3x3, stride 1, padding 1, then an optional 2x2 max-pool."""

    in_channels: int
    out_channels: int
    height: int  # output height of the conv (before pooling)
    width: int  # output width of the conv (before pooling)
    pool: bool


@dataclass(frozen=True)
class Architecture:
    """Backbone shape (paper Table 2: 5 conv layers + GAP + classifier) and operator hyper-params.

    Layer 0 is never compressed (Algorithm 1 note: start from the second conv layer).
    """

    n_mels: int = 40
    n_frames: int = 51
    #: No compressible layer keeps its channel count, so δ4 is always the 1x1 adapter. A plan
    #: with equal pairs, (8, 96, 96, 144, 144), lets skip be an identity at layers 2 and 4, but
    #: without residual connections the identity lost 63-66 pp in a reduced run (adapter:
    #: 6-21 pp); with them (``residual``, `residual_architecture`, train_all --plan residual)
    #: see training/README.md, issue 14.
    channels: tuple[int, ...] = (8, 80, 112, 144, 160)
    pools: tuple[bool, ...] = (True, True, True, False, False)
    n_classes: int = 9
    fire_squeeze_ratio: float = 0.25  # squeeze channels = ratio * C_out
    svd_rank_ratio: float = 0.25  # rank = ratio * C_out
    #: Fire expand layout: True gives the first (most important) half of the kept channels the
    #: 3x3 expand and the rest the 1x1; False (checkpoints before issue 14) the other way round.
    fire_3x3_first: bool = True
    #: Residual layers (issue 14, δ4 removing depth): a compressible layer whose input and
    #: output channel counts are equal adds its input to its output before ReLU and pooling,
    #: ``relu(pool(body(x) + x))``, and the backbone trains it with stochastic depth, so δ4's
    #: identity (``pool(x)``, which that formula gives with the body removed since x >= 0)
    #: is a network the training has seen. False (every checkpoint before it): no residual.
    residual: bool = False
    #: δ3 width noise (issue 14): True trains one σ per output channel of each compressible
    #: layer (`SelfEvolutionaryNet.width_log_sigma` holds sum(C_out) values) and exports them
    #: per channel in the profile; False (every checkpoint before it): one σ per layer.
    per_channel_noise: bool = False
    layers: tuple[ConvLayerSpec, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.channels) != len(self.pools):
            raise ValueError("channels and pools must have the same length")
        specs = []
        h, w, cin = self.n_mels, self.n_frames, 1
        for cout, pool in zip(self.channels, self.pools, strict=False):
            specs.append(ConvLayerSpec(cin, cout, h, w, pool))
            if pool:
                h, w = h // 2, w // 2
            cin = cout
        object.__setattr__(self, "layers", tuple(specs))

    @property
    def n_compressible(self) -> int:
        return len(self.channels) - 1

    def to_dict(self) -> dict:
        """Plain dict; ``fire_3x3_first`` only when set, so an architecture stored before it
        existed round-trips to the same dict (and the same profile and cache hashes)."""
        d = {
            "n_mels": self.n_mels,
            "n_frames": self.n_frames,
            "channels": list(self.channels),
            "pools": list(self.pools),
            "n_classes": self.n_classes,
            "fire_squeeze_ratio": self.fire_squeeze_ratio,
            "svd_rank_ratio": self.svd_rank_ratio,
        }
        if self.fire_3x3_first:
            d["fire_3x3_first"] = True
        if self.residual:
            d["residual"] = True
        if self.per_channel_noise:
            d["per_channel_noise"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Architecture:
        return cls(
            n_mels=int(d["n_mels"]),
            n_frames=int(d["n_frames"]),
            channels=tuple(int(c) for c in d["channels"]),
            pools=tuple(bool(p) for p in d["pools"]),
            n_classes=int(d["n_classes"]),
            fire_squeeze_ratio=float(d["fire_squeeze_ratio"]),
            svd_rank_ratio=float(d["svd_rank_ratio"]),
            fire_3x3_first=bool(d.get("fire_3x3_first", False)),
            residual=bool(d.get("residual", False)),
            per_channel_noise=bool(d.get("per_channel_noise", False)),
        )

    def is_residual(self, layer: int) -> bool:
        """Whether compressible layer ``layer`` (1-based conv index) adds its input back."""
        spec = self.layers[layer]
        return self.residual and layer >= 1 and spec.in_channels == spec.out_channels


#: The channel plan with equal pairs for ``Architecture(residual=True)``: layers 2 and 4 keep
#: their channel count, so they are residual and δ4 can remove them (identity skip).
RESIDUAL_CHANNELS: tuple[int, ...] = (8, 96, 96, 144, 144)


def residual_architecture(n_classes: int = 9) -> Architecture:
    """The residual backbone (equal-pair channel plan, residual layers 2 and 4)."""
    return Architecture(channels=RESIDUAL_CHANNELS, n_classes=n_classes, residual=True)


def scaled(channels: int, width: float) -> int:
    """Channels kept at width w: at least one, rounded to the nearest whole channel."""
    return max(1, int(round(channels * width)))


@dataclass(frozen=True)
class Cost:
    """Exact cost of a layer or a whole model. Sa counts every intermediate activation written."""

    macs: int = 0
    params_bytes: int = 0
    act_bytes: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.macs + other.macs,
            self.params_bytes + other.params_bytes,
            self.act_bytes + other.act_bytes,
        )


def layer_out_channels(arch: Architecture, layer: int, option: str, in_channels: int) -> int:
    structure, width = parse_option(option)
    if structure == SKIP:
        # a removed residual layer passes its input through, at whatever width it arrives
        return in_channels if arch.is_residual(layer) else arch.layers[layer].out_channels
    return scaled(arch.layers[layer].out_channels, width)


def skip_is_identity(arch: Architecture, layer: int, in_channels: int) -> bool:
    """Whether δ4 at ``layer`` is the identity (else the 1x1 adapter): always in a residual
    layer (its body removed; a narrower input passes through as it is), otherwise when the
    channel count is unchanged."""
    return arch.is_residual(layer) or in_channels == arch.layers[layer].out_channels


def layer_cost(arch: Architecture, layer: int, option: str, in_channels: int) -> Cost:
    """Cost of conv layer ``layer`` run as ``option`` on ``in_channels`` input channels.

    Weights count with one bias per output channel (BatchNorm folded into the conv for
    deployment), activations are the conv outputs before pooling.
    """
    spec = arch.layers[layer]
    hw = spec.height * spec.width
    structure, width = parse_option(option)
    cout = spec.out_channels
    cw = scaled(cout, width)
    if structure == "conv":
        params = in_channels * cw * 9 + cw
        macs = hw * in_channels * cw * 9
        acts = hw * cw
    elif structure == "fire":
        s = scaled(cout, arch.fire_squeeze_ratio)
        e1 = cw // 2
        e3 = cw - e1
        params = (in_channels * s + s) + (s * e1 + e1) + (s * e3 * 9 + e3)
        macs = hw * (in_channels * s + s * e1 + s * e3 * 9)
        acts = hw * (s + cw)
    elif structure == "svd":
        r = scaled(cout, arch.svd_rank_ratio)
        params = in_channels * r * 9 + (r * cw + cw)
        macs = hw * (in_channels * r * 9 + r * cw)
        acts = hw * (r + cw)
    elif structure == "dws":
        params = (in_channels * 9) + (in_channels * cw + cw)
        macs = hw * (in_channels * 9 + in_channels * cw)
        acts = hw * (in_channels + cw)
    else:  # skip
        if skip_is_identity(arch, layer, in_channels):
            return Cost(0, 0, 0)
        params = in_channels * cout + cout
        macs = hw * in_channels * cout
        acts = hw * cout
    return Cost(macs, params * BYTES_PER_VALUE, acts * BYTES_PER_VALUE)


def stem_cost(arch: Architecture) -> Cost:
    """Layer 0, always the backbone conv (never compressed)."""
    return layer_cost(arch, 0, UNCOMPRESSED, 1)


def head_cost(arch: Architecture, in_channels: int) -> Cost:
    """Global average pooling + linear classifier on the last layer's channels."""
    params = in_channels * arch.n_classes + arch.n_classes
    macs = in_channels * arch.n_classes
    acts = in_channels + arch.n_classes
    return Cost(macs, params * BYTES_PER_VALUE, acts * BYTES_PER_VALUE)


Configuration = tuple[str, ...]  # one operator id per compressible layer (layers 1..N-1)


def backbone_configuration(arch: Architecture) -> Configuration:
    return (UNCOMPRESSED,) * arch.n_compressible


def validate_configuration(arch: Architecture, config: Sequence[str]) -> Configuration:
    """Return the configuration as a tuple, or raise ValueError saying what is wrong with it."""
    config = tuple(config)
    if len(config) != arch.n_compressible:
        raise ValueError(
            f"configuration has {len(config)} layer choices; this backbone has "
            f"{arch.n_compressible} compressible conv layers"
        )
    for op in config:
        parse_option(op)
    return config


def layer_input_channels(arch: Architecture, config: Sequence[str]) -> list[int]:
    """Input channels of each compressible layer (they follow the previous layer's width)."""
    cin = arch.layers[0].out_channels
    ins = []
    for i, op in enumerate(config, start=1):
        ins.append(cin)
        cin = layer_out_channels(arch, i, op, cin)
    return ins


def configuration_cost(arch: Architecture, config: Sequence[str]) -> Cost:
    """Exact C, Sp and Sa of the whole network under ``config``."""
    config = validate_configuration(arch, config)
    total = stem_cost(arch)
    cin = arch.layers[0].out_channels
    for i, op in enumerate(config, start=1):
        total = total + layer_cost(arch, i, op, cin)
        cin = layer_out_channels(arch, i, op, cin)
    return total + head_cost(arch, cin)


def energy_proxy(cost: Cost, mu1: float = 0.4, mu2: float = 0.6) -> float:
    """Paper Eq. (2): E = μ1·C/Sp + μ2·C/Sa (arithmetic intensity, higher is more efficient).

    Sp and Sa are counted in values (bytes / 4) so the ratios read as MACs per value fetched,
    the paper's convention.
    """
    sp = cost.params_bytes / BYTES_PER_VALUE
    sa = cost.act_bytes / BYTES_PER_VALUE
    if sp <= 0 or sa <= 0:
        return 0.0
    return mu1 * cost.macs / sp + mu2 * cost.macs / sa


def all_configurations(arch: Architecture):
    """Every configuration, for the exhaustive baseline (len(OPTIONS) ** n_compressible)."""
    import itertools

    return itertools.product(OPTIONS, repeat=arch.n_compressible)


def count_configurations(arch: Architecture) -> int:
    return int(math.pow(len(OPTIONS), arch.n_compressible))


def random_configuration(arch: Architecture, rng: random.Random) -> Configuration:
    """One operator drawn uniformly per compressible layer."""
    return tuple(rng.choice(OPTIONS) for _ in range(arch.n_compressible))


def distinct_configurations(draw: Callable[[], Configuration], n: int, *,
                            start: Iterable[Configuration] = (),
                            exclude: Iterable[Configuration] = ()) -> list[Configuration]:
    """``start``, then distinct ``draw()`` results not in ``exclude`` until there are ``n``.

    The caller bounds ``n`` by what ``draw`` can reach, or this never returns.
    """
    configs = list(start)
    seen = set(configs) | set(exclude)
    while len(configs) < n:
        config = draw()
        if config not in seen:
            seen.add(config)
            configs.append(config)
    return configs
