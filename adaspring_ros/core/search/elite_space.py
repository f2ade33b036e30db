"""The elite search space Δ' (paper §5.1, Algorithm 1 line 1), built once per profile.

Runtime3C's line 4 picks its two candidates "from the Pareto front of the valid space", ranked by
"pre-tested accuracy and energy". This module builds that front ahead of any context, from the
profile alone: every configuration Pareto-optimal in (accuracy loss, latency, parameter bytes,
activation bytes, ±MACs), all five minimised. The sign of the MACs axis follows the energy
objective (objective.EnergyTerm): +C for "joules", −C for the paper's Eq. (2). Why that is
enough to search at run time:
- feasibility is exact: a context's constraints are upper bounds on A loss, T and Sp, so if any
  configuration meets them, a member at least as good on all five meets them too;
- so is Eq. (1), for every λ and every energy term of that kind. "joules": a member with no
  larger A loss, latency, bytes and MACs costs no more joules per window, for any non-negative
  e_mac, e_byte and P_active (the window energy is a non-negative sum of those four). "paper":
  with at least the MACs over no more parameter and activation bytes it has at least the C/Sp
  and C/Sa, hence at least the E, for every μ1, μ2 >= 0. Some member is therefore an optimum
  of every context. (A latency correction that scales the whole table keeps this true.)
Dropping axes gives smaller fronts that keep the first property only (``axes`` 3 or 4; the
benchmark measures what they miss); ``random_subset`` keeps neither, so the optimum is not
guaranteed to be inside and Runtime3C's mutation and inheritance have something to find (the
ablation benchmark's reduced Δ'). The backbone is always kept, so the search can scale back
up to it.

How it is built: progressively, as the progressive shortest encoding grows (§5.2.1). Layer by
layer from layer 1, each surviving prefix [k, d_1..d_k] is extended by one digit (every operator
of that layer), and only prefixes that are Pareto-optimal among those ending with the same output
width survive (everything after a prefix depends only on that width, so nothing optimal is lost).
All five axes are sums over layers, which is what makes this pruning exact. On the shipped
profile about 6,000 prefixes are priced for the joules objective and 29,000 for the paper's,
instead of 83,521 configurations; the classic binary encoding has no layer prefixes to prune
and must decode all 2^(N(1+b)) strings (``build_binary``, §6.5.3).
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field

import numpy as np

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.search.encoding import binary_decode, binary_length
from adaspring_ros.core.search.profile_memo import ProfileMemo
from adaspring_ros.core.search.objective import (
    ENERGY_OBJECTIVES,
    EnergyTerm,
    LayerTables,
    Sums,
    accuracy_log,
    layer_tables,
)

# A prefix's label: (A loss, T, Sp, Sa, ±C, ops), its running Sums reordered so that the first
# ``axes`` entries are the Pareto axes, all minimised, then the prefix itself. A plain tuple:
# about 10^5 are built per Δ'; _label and _members convert from and to objective.Sums.
_Label = tuple


def _label(sums: Sums, sign: int, ops: tuple) -> _Label:
    return (sums.accuracy_loss, sums.latency_ms, sums.params_bytes, sums.act_bytes,
            sign * sums.macs, ops)
#: Pareto axes by count: 3 = (A, T, Sp), 4 adds Sa, 5 adds -C (see the module docstring).
AXES = (3, 4, 5)


@dataclass(frozen=True)
class EliteMember:
    """One Pareto-optimal configuration and its exact sums (as LayerTables.sums returns them)."""

    config: ss.Configuration
    sums: Sums


@dataclass(frozen=True)
class Screen:
    """Per-member columns, index-aligned with EliteSpace.members."""

    loss: np.ndarray
    latency_ms: np.ndarray
    params_bytes: np.ndarray
    norm_accuracy: np.ndarray  # log(max(A, 0) + ε)
    energy_cost: np.ndarray  # the energy term's cost (EnergyTerm.cost), lower is better


@dataclass(frozen=True)
class EliteSpace:
    members: tuple[EliteMember, ...]
    candidates_priced: int  # prefixes (or decoded strings) priced to build it
    build_ms: float
    encoding: str  # "progressive" or "binary"
    energy_objective: str = ENERGY_OBJECTIVES[0]  # the objective whose optima it holds
    source: str = "built"  # or "cache": read back from an earlier run (core/search/elite_cache)
    _screens: dict = field(default_factory=dict, compare=False, repr=False)

    def fastest_member_within(self, accuracy_loss_pp: float,
                              storage_bytes: float) -> EliteMember | None:
        """The member of lowest table latency within the accuracy-loss and storage limits, or
        None. Δ' is Pareto-optimal in (A loss, T, Sp), so it holds the fastest such configuration
        of the whole space."""
        fits = [m for m in self.members
                if m.sums.accuracy_loss <= accuracy_loss_pp
                and m.sums.params_bytes <= storage_bytes]
        return min(fits, key=lambda m: m.sums.latency_ms) if fits else None

    def fastest_within(self, accuracy_loss_pp: float, storage_bytes: float) -> float | None:
        """`fastest_member_within`'s table latency: the floor below which no latency budget can
        be met."""
        member = self.fastest_member_within(accuracy_loss_pp, storage_bytes)
        return None if member is None else member.sums.latency_ms

    def screen(self, term: EnergyTerm) -> Screen:
        """The context-free columns a context check needs, cached per energy term.

        Screening every member against a context is then three vector comparisons and one
        multiply-add over contiguous arrays (a few tens of µs, and little memory to bring back
        into cache when the search runs between inferences).
        """
        screen = self._screens.get(term)
        if screen is None:
            cols = [[] for _ in range(5)]
            for m in self.members:
                macs, params, acts, latency, loss = m.sums
                for col, value in zip(cols, (loss, latency, params, accuracy_log(loss),
                                             term.cost_of_sums(macs, params, acts, latency)),
                                      strict=True):
                    col.append(value)
            screen = Screen(*(np.asarray(c, dtype=np.float64) for c in cols))
            self._screens[term] = screen
        return screen


def _pareto(labels: list[_Label], axes: int) -> list[_Label]:
    """Labels not dominated on the first ``axes`` sums; exact duplicates keep the first.

    Sorted lexicographically, a label can only be dominated by one before it, so one pass
    against the front kept so far is enough.
    """
    if len(labels) < 2:
        return list(labels)
    labels.sort(key=lambda lab: lab[:axes])
    keys = np.array([lab[:axes] for lab in labels], dtype=np.float64)
    front = np.empty_like(keys)
    kept: list[_Label] = []
    k = 0
    for i, lab in enumerate(labels):
        x = keys[i]
        if k and (front[:k] <= x).all(axis=1).any():
            continue
        front[k] = x
        k += 1
        kept.append(lab)
    return kept


def _mac_sign(energy_objective: str) -> int:
    """+1 when the MACs axis is minimised ("joules"), -1 when maximised ("paper")."""
    if energy_objective not in ENERGY_OBJECTIVES:
        raise ValueError(f"energy objective {energy_objective!r} unknown; use one of "
                         f"{', '.join(ENERGY_OBJECTIVES)}")
    return 1 if energy_objective == "joules" else -1


def build_progressive(profile: Profile, tables: LayerTables | None = None,
                      axes: int = 5, energy_objective: str = ENERGY_OBJECTIVES[0]) -> EliteSpace:
    """Δ' by progressive, prefix-pruned extension (see module docstring).

    ``axes`` 3 or 4 build the smaller fronts of (A, T, Sp) and (A, T, Sp, Sa): exact for
    feasibility but not for the energy term (the benchmark measures what that costs).
    """
    if axes not in AXES:
        raise ValueError(f"axes must be one of {AXES}; got {axes!r}")
    sign = _mac_sign(energy_objective)
    t0 = time.perf_counter()
    tables = layer_tables(profile) if tables is None else tables
    stem = tables.stem
    states: dict[int, list[_Label]] = {
        tables.first_in: [(0.0, tables.stem_latency, stem.params_bytes, stem.act_bytes,
                           sign * stem.macs, ())]
    }
    priced = 0
    for rows in tables.rows:
        grown: dict[int, list[_Label]] = {}
        for cin, labels in states.items():
            row = rows.get(cin)
            if row is None:  # the profile never measured this input width
                continue
            for op, (cout, m, p, a, t, d) in row.items():
                bucket = grown.setdefault(cout, [])
                sm = sign * m
                for loss, lat, par, act, mac, ops in labels:
                    bucket.append((loss + d, lat + t, par + p, act + a, mac + sm, ops + (op,)))
                priced += len(labels)
        states = {cout: _pareto(labels, axes) for cout, labels in grown.items()}
    finals: list[_Label] = []
    for cin, labels in states.items():
        if cin not in tables.head:
            continue
        hm, hp, ha, ht = tables.head[cin]
        finals.extend((loss, lat + ht, par + hp, act + ha, mac + sign * hm, ops)
                      for loss, lat, par, act, mac, ops in labels)
    members = _members(_pareto(finals, axes), tables, profile, sign)
    return EliteSpace(members, priced, (time.perf_counter() - t0) * 1e3, f"progressive-{axes}",
                      energy_objective)


def build_binary(profile: Profile, tables: LayerTables | None = None,
                 axes: int = 5, energy_objective: str = ENERGY_OBJECTIVES[0]) -> EliteSpace:
    """The same front reached through the classic binary encoding: decode every bit string.

    Bit strings share no layer prefixes, so nothing can be pruned before a string is complete;
    repeated configurations are priced once (memo), but every string is decoded.
    """
    sign = _mac_sign(energy_objective)
    t0 = time.perf_counter()
    tables = layer_tables(profile) if tables is None else tables
    n = profile.arch.n_compressible
    seen: dict[ss.Configuration, _Label] = {}
    decoded = 0
    for bits in itertools.product((0, 1), repeat=binary_length(n)):
        config = binary_decode(bits, n)
        decoded += 1
        if config not in seen:
            try:
                seen[config] = _label(tables.sums(config), sign, config)
            except KeyError:
                continue
    members = _members(_pareto(list(seen.values()), axes), tables, profile, sign)
    return EliteSpace(members, decoded, (time.perf_counter() - t0) * 1e3, f"binary-{axes}",
                      energy_objective)


def _members(front: list[_Label], tables: LayerTables, profile: Profile, sign: int) -> tuple:
    members = [EliteMember(ops, Sums(sign * mac, par, act, lat, loss))
               for loss, lat, par, act, mac, ops in front]
    backbone = ss.backbone_configuration(profile.arch)
    if all(m.config != backbone for m in members):
        members.append(EliteMember(backbone, tables.sums(backbone)))
    return tuple(members)


def random_subset(space: EliteSpace, fraction: float, seed: int = 0) -> EliteSpace:
    """A seeded random ``fraction`` of Δ' (at least one member), backbone always kept.

    Neither property of the module docstring survives: a context's optimum, even every
    feasible configuration, may be missing, which is the point. It measures what Runtime3C's
    per-context mechanisms recover when line 4 starts from a poorer front (bench_ablation).
    Build cost and encoding are inherited; the screen cache is not.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
    members = list(space.members)
    keep = max(1, round(fraction * len(members)))
    chosen = sorted(random.Random(seed).sample(range(len(members)), keep))
    subset = [members[i] for i in chosen]
    backbone = [m for m in members if all(op == ss.UNCOMPRESSED for op in m.config)]
    if backbone and backbone[0] not in subset:
        subset.append(backbone[0])
    return EliteSpace(tuple(subset), space.candidates_priced, space.build_ms,
                      f"{space.encoding}-random{fraction:g}", space.energy_objective)


_SPACES: ProfileMemo[EliteSpace] = ProfileMemo()


def elite_space(profile: Profile, energy_objective: str = ENERGY_OBJECTIVES[0]) -> EliteSpace:
    """The 5-axis progressive Δ' of ``profile`` for that energy objective: kept in memory per
    profile object (`ProfileMemo`), and between runs in the user's cache folder
    (core/search/elite_cache); built on first use otherwise (0.1-0.35 s here)."""
    _mac_sign(energy_objective)  # an unknown objective is an error, not a cache miss
    return _SPACES.get(profile, lambda: _load_or_build(profile, energy_objective),
                       energy_objective)


def _load_or_build(profile: Profile, energy_objective: str) -> EliteSpace:
    from adaspring_ros.core.search import elite_cache

    tables = layer_tables(profile)
    space = elite_cache.load(profile, energy_objective, tables)
    if space is None:
        space = build_progressive(profile, tables, energy_objective=energy_objective)
        elite_cache.store(profile, space)
    return space
