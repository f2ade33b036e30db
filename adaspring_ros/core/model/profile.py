"""The operator profile: what each per-layer operator choice costs and loses, measured offline.

Runtime3C cannot run the network on validation data for every candidate (that would take seconds,
not milliseconds), so training measures each choice once (paper §4.2: "pre-train ... to evaluate
the overall performance of different variant-networks") and the search predicts a whole
configuration from these tables:

- accuracy loss: one entry per (layer, option), summed over layers. Entries are fitted to
  measured whole configurations near the backbone (`training/accuracy_model.py`), because
  single-layer drops summed under-predict stacked compression; the checks of rank correlation
  and of bias on held-out data are in `adaspring_ros/training/profile_operators.py` and
  `benchmarks/bench_network.py`;
- latency: per-layer latency measured for each input width, summed with the stem and the head;
- C, Sp, Sa: exact, from `search_space`.

Accuracy figures are in percentage points (pp) throughout, like the paper's thresholds (0.3-2 %).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from adaspring_ros.core.model import search_space as ss

PROFILE_FORMAT = 1


def _noise_value(value) -> float | tuple[float, ...]:
    """A stored channel-noise entry: a number (one σ per layer) or a list (one per channel)."""
    if isinstance(value, list | tuple):
        return tuple(float(x) for x in value)
    return float(value)


def layer_noise_mean(value: float | Sequence[float]) -> float:
    """One layer's σ as a single number: itself, or the mean over its channels."""
    if isinstance(value, float | int):
        return float(value)
    return statistics.fmean(value) if len(value) else 0.0


@dataclass(frozen=True)
class Metrics:
    """Predicted (or measured) performance of one configuration."""

    accuracy_loss: float  # pp below the backbone's validation accuracy
    latency_ms: float
    macs: int
    params_bytes: int
    act_bytes: int
    energy: float  # E = μ1·C/Sp + μ2·C/Sa

    @property
    def c_per_sp(self) -> float:
        return self.macs / max(1, self.params_bytes // ss.BYTES_PER_VALUE)

    @property
    def c_per_sa(self) -> float:
        return self.macs / max(1, self.act_bytes // ss.BYTES_PER_VALUE)


@dataclass
class Profile:
    """Measured per-operator tables for one checkpoint.

    accuracy_drop[layer][option]: pp that ``option`` at ``layer`` (1-based conv index) costs in a
    whole configuration (fitted; the single-layer drops are in meta['accuracy_drop_single']).
    latency_ms[layer][in_channels][option]: measured latency of that layer's module.
    stem_latency_ms: layer 0; head_latency_ms[in_channels]: GAP + classifier.
    channel_noise[layer]: trained δ3 Gaussian noise std (in width units) the search mutates with:
    one float per layer, or (``arch.per_channel_noise``, issue 14) a tuple with one value per
    output channel, in importance order. A profile stored with floats loads as before.
    """

    arch: ss.Architecture
    checkpoint_version: str
    backbone_accuracy: float
    accuracy_drop: dict[int, dict[str, float]]
    latency_ms: dict[int, dict[int, dict[str, float]]]
    stem_latency_ms: float
    head_latency_ms: dict[int, float]
    channel_noise: dict[int, float | tuple[float, ...]]
    mu1: float = 0.4
    mu2: float = 0.6
    meta: dict[str, object] = field(default_factory=dict)

    # ------------------------------------------------------------------ prediction
    def predict(self, config: Sequence[str], mu1: float = None, mu2: float = None) -> Metrics:
        """Predict A loss and T from the tables; C, Sp, Sa and E are exact."""
        arch = self.arch
        config = ss.validate_configuration(arch, config)
        mu1 = self.mu1 if mu1 is None else mu1
        mu2 = self.mu2 if mu2 is None else mu2
        cost = ss.stem_cost(arch)
        latency = self.stem_latency_ms
        loss = 0.0
        cin = arch.layers[0].out_channels
        for layer, op in enumerate(config, start=1):
            cost = cost + ss.layer_cost(arch, layer, op, cin)
            latency += self.latency_ms[layer][cin][op]
            loss += self.accuracy_drop[layer][op]
            cin = ss.layer_out_channels(arch, layer, op, cin)
        cost = cost + ss.head_cost(arch, cin)
        latency += self.head_latency_ms[cin]
        return Metrics(
            accuracy_loss=loss,
            latency_ms=latency,
            macs=cost.macs,
            params_bytes=cost.params_bytes,
            act_bytes=cost.act_bytes,
            energy=ss.energy_proxy(cost, mu1, mu2),
        )

    def speed_factor(self, measured_ms: dict[tuple[str, ...], float]) -> float:
        """Median measured/predicted latency ratio over the timed configurations.

        The tables hold the machine's speed when they were profiled; a shared or thermally
        throttled CPU runs 5-25 % faster or slower minutes later (measured here), by roughly
        one factor for all configurations (not exactly: depthwise convs moved about twice as
        much as plain ones). One factor from a few reference networks timed now puts the
        tables back on today's clock; the median keeps one disturbed reference from moving it.
        """
        if not measured_ms:
            raise ValueError("speed_factor needs at least one measured configuration")
        return statistics.median(ms / self.predict(c).latency_ms
                                 for c, ms in measured_ms.items())

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        """Plain dict of str/int/float/list only: storable in a weights_only checkpoint and JSON."""
        return {
            "format": PROFILE_FORMAT,
            "arch": self.arch.to_dict(),
            "checkpoint_version": self.checkpoint_version,
            "backbone_accuracy": self.backbone_accuracy,
            "accuracy_drop": {str(k): dict(v) for k, v in self.accuracy_drop.items()},
            "latency_ms": {
                str(layer): {str(cin): dict(ops) for cin, ops in by_cin.items()}
                for layer, by_cin in self.latency_ms.items()
            },
            "stem_latency_ms": self.stem_latency_ms,
            "head_latency_ms": {str(k): v for k, v in self.head_latency_ms.items()},
            "channel_noise": {str(k): (v if isinstance(v, float | int) else [float(x) for x in v])
                              for k, v in self.channel_noise.items()},
            "mu1": self.mu1,
            "mu2": self.mu2,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Profile:
        if d.get("format") != PROFILE_FORMAT:
            raise ValueError(
                f"profile format {d.get('format')!r} is not {PROFILE_FORMAT}; "
                "regenerate it with adaspring_ros/training/train_all.py"
            )
        return cls(
            arch=ss.Architecture.from_dict(d["arch"]),
            checkpoint_version=str(d["checkpoint_version"]),
            backbone_accuracy=float(d["backbone_accuracy"]),
            accuracy_drop={int(k): {o: float(x) for o, x in v.items()}
                           for k, v in d["accuracy_drop"].items()},
            latency_ms={
                int(layer): {int(cin): {o: float(x) for o, x in ops.items()}
                             for cin, ops in by_cin.items()}
                for layer, by_cin in d["latency_ms"].items()
            },
            stem_latency_ms=float(d["stem_latency_ms"]),
            head_latency_ms={int(k): float(v) for k, v in d["head_latency_ms"].items()},
            channel_noise={int(k): _noise_value(v) for k, v in d["channel_noise"].items()},
            mu1=float(d.get("mu1", 0.4)),
            mu2=float(d.get("mu2", 0.6)),
            meta=dict(d.get("meta", {})),
        )
