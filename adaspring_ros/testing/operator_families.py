"""Operator families against width-only (δ3) compression: the analysis behind bench_families.

Issue 14 asks, per family (δ1 fire, δ2 svd/dws, δ4 skip), whether it earns its place beside
channel scaling alone: the best accuracy it reaches at a latency (or parameter size) no δ3-only
configuration matches, and whether any of its configurations sits on the Pareto front of
everything measured. These are plain functions over {configuration: (accuracy, cost)} so the
benchmark feeds them measured numbers and the tests feed them made-up ones.

Which configurations to measure is the expensive choice (a held-out pass and a latency
timing each): ``predicted_front`` gives a family's best candidates by the profile's prediction,
restricted to that family plus δ3, spread along the predicted latency.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from adaspring_ros.core.model import search_space as ss

#: The families issue 14 judges, by the structures (search_space) that belong to them.
FAMILIES: dict[str, frozenset[str]] = {
    "δ1 fire": frozenset({"fire"}),
    "δ2 svd/dws": frozenset({"svd", "dws"}),
    "δ4 skip": frozenset({ss.SKIP}),
}
#: Width-only (δ3) compression: channel scaling of the plain convolution, nothing else.
WIDTH_ONLY = frozenset({"conv"})


def structures(config: Sequence[str]) -> frozenset[str]:
    return frozenset(ss.parse_option(op)[0] for op in config)


def is_width_only(config: Sequence[str]) -> bool:
    return structures(config) <= WIDTH_ONLY


def families_used(config: Sequence[str]) -> list[str]:
    """The families of FAMILIES that ``config`` uses in at least one layer."""
    used = structures(config)
    return [name for name, members in FAMILIES.items() if used & members]


def pareto_front(points: Mapping) -> set:
    """Keys of ``points`` ({key: (accuracy, cost)}) that no other point dominates: at least as
    accurate and no costlier, and strictly better in one (higher accuracy, lower cost).

    One sweep by rising cost (tens of thousands of predicted configurations pass through it):
    a point is on the front when it is the most accurate at its cost and more accurate than
    everything cheaper.
    """
    by_cost: dict[float, list] = {}
    for key, (acc, cost) in points.items():
        by_cost.setdefault(cost, []).append((acc, key))
    front = set()
    best_cheaper = -math.inf
    for cost in sorted(by_cost):
        group = by_cost[cost]
        top = max(acc for acc, _ in group)
        if top > best_cheaper:
            front.update(key for acc, key in group if acc == top)
        best_cheaper = max(best_cheaper, top)
    return front


@dataclass(frozen=True)
class Matched:
    """One family configuration against the best width-only one that costs no more."""

    config: tuple
    accuracy: float
    cost: float
    width_config: tuple | None  # None: no width-only configuration is this cheap
    width_accuracy: float  # -inf when width_config is None

    @property
    def margin_pp(self) -> float:
        """Family accuracy minus the best width-only accuracy at no higher cost (inf if none)."""
        return self.accuracy - self.width_accuracy


def matched(family: Mapping, width_only: Mapping) -> list[Matched]:
    """For every family configuration ({config: (accuracy, cost)}), the most accurate
    width-only configuration whose cost is at most its own; best margin first."""
    rows = []
    for config, (acc, cost) in family.items():
        cheaper = [(a, k) for k, (a, c) in width_only.items() if c <= cost]
        if cheaper:
            best_acc, best = max(cheaper)
            rows.append(Matched(tuple(config), acc, cost, tuple(best), best_acc))
        else:
            rows.append(Matched(tuple(config), acc, cost, None, -math.inf))
    return sorted(rows, key=lambda m: -m.margin_pp)


def predicted_front(profile, members: Iterable[str], k: int,
                    require: Iterable[str] = ()) -> list[ss.Configuration]:
    """Up to ``k`` configurations built only from the ``members`` structures (and
    ``conv@1.0``), each using at least one of ``require``, that are Pareto-optimal by the
    profile in (predicted A loss, predicted latency) or (predicted A loss, Sp), spread evenly
    along the predicted latency. The family's best shot, as the profile sees it."""
    members, require = set(members), set(require)
    options = [op for op in ss.OPTIONS
               if ss.parse_option(op)[0] in members or op == ss.UNCOMPRESSED]
    predicted = {}
    for config in itertools.product(options, repeat=profile.arch.n_compressible):
        if require and not structures(config) & require:
            continue
        m = profile.predict(config)
        predicted[config] = (m.accuracy_loss, m.latency_ms, m.params_bytes)
    front = (pareto_front({c: (-a, t) for c, (a, t, _) in predicted.items()})
             | pareto_front({c: (-a, p) for c, (a, _, p) in predicted.items()}))
    ordered = sorted(front, key=lambda c: (predicted[c][1], c))
    if len(ordered) <= k:
        return ordered
    picks = {ordered[round(i * (len(ordered) - 1) / (k - 1))] for i in range(k)} if k > 1 \
        else {ordered[0]}
    return sorted(picks, key=lambda c: (predicted[c][1], c))
