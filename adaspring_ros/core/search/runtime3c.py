"""Runtime3C (paper §5.2, Algorithm 1): a configuration for a context in well under a millisecond.

Algorithm 1, as realised on this search space.

Line 1, the hardware-efficient search space Δ' (``elite_space``), is prepared once per profile:
the configurations Pareto-optimal in (A loss, T, Sp, Sa, ±C) (+C for the default
energy-per-window objective, -C for the paper's Eq. (2)), grown layer by layer along the
progressive shortest encoding. It is context-free, so the node builds it when the profile loads
(``prepare``: on the shipped profile about 6,000 priced prefixes for the joules objective,
29,000 for the paper's, against 83,521 configurations in one exhaustive search). It provably
holds an optimum of Eq. (1) for every context (see elite_space), so line 4 below already
returns the exhaustive optimum; the mutation step can then only confirm it. The step matters
with a reduced Δ' (``space=build_progressive(profile, axes=3 or 4)``) and in the literal mode,
where the benchmark measures it.

Per context:
- Line 4, two candidates from the Pareto front of the valid space: every Δ' member is screened
  against the context (three comparisons on cached sums), the best by Eq. (1) are priced by the
  shared evaluator and the two Pareto-best of those are taken, by Deb's rule (meeting every
  constraint first, then less violation, then lower objective; a candidate dominated on
  (A loss, energy cost, violation) is never taken, so the two differ in trade-off, not just in
  rank).
- Lines 2-3 and 5-6, layer by layer from layer 1 (the second conv layer; the stem is never
  compressed): each of the two inherited candidates gets two children at this layer, so two
  become six:
    * channel-wise mutation: the layer's width plus Gaussian noise with that layer's trained
      std (``Profile.channel_noise``), snapped to the nearest other available width, so layers
      the network found less important (larger noise) move further. With a per-channel σ
      (issue 14, ``Architecture.per_channel_noise``) the noise is read around the width cut
      and applied to the channel count (`channel_cut_target`): the cut moves toward the side
      whose channels carry more noise, and further the noisier they are;
    * hardware-efficiency group mutation: a structure from the same group at a noisy width.
      The groups are the paper's (§5.1.2): δ1+δ3 = ``fire@w`` and ``conv@w``, δ2+δ4 =
      ``svd@w``, ``dws@w`` and ``skip``, meant to pair a coarse operator with the fine one
      that offsets its data movement in E = μ1·C/Sp + μ2·C/Sa. On this backbone E (exact, see
      the benchmark's pairing table) supports δ1+δ3 over δ1+δ4, but not δ2+δ4 over δ2+δ3.
  The two Pareto-best of the six survive and are inherited by the next layer; the progressive
  encoding of the best grows by one digit per layer.
- Lines 10-12, stop: at the first layer at which the best survivor meets every constraint and
  that layer's mutation did not improve it; otherwise after the last layer. If nothing meets
  every constraint, the least violating configuration is returned, flagged infeasible, with the
  violated constraints named.

Why Δ' and not Algorithm 1 alone: run literally (``elite=False``: start from the backbone, at
each layer price the group members at the inherited width, two Pareto candidates, six after
mutation, survivor, stop at the first configuration that meets every constraint) the search
commits early layers before it sees the later ones and misses feasible configurations when few
exist; see benchmarks/bench_runtime3c.py for both, measured against the exhaustive optimum.

Ablations (§6.5; the benchmark measures them with a reduced Δ' and in the literal mode, since
with the exact Δ' they cannot change the result): ``grouping=False`` lets mutation (and, with
``elite=False``, the per-layer pricing) pick any structure (blind combination);
``inheritance=False`` starts every layer from the line-4 candidates (or the backbone) instead
of the previous layer's survivors; ``mutation=False`` drops the children. ``stop_early=False``
drops lines 10-12's stop: over Δ' every layer is mutated (the stop otherwise ends every feasible
search at layer 1 when that layer's mutation brings no gain, so the later layers' mutations are
never tried); in the literal mode the sweeps go on past the first feasible configuration until
they change nothing, and the best configuration seen is kept.

Quality against the exhaustive optimum is measured with ``normalised_gap``.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence

import numpy as np

from adaspring_ros.core.context.deployment_context import DeploymentContext, LambdaFn
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.search.elite_space import EliteSpace, elite_space
from adaspring_ros.core.search.encoding import progressive_encode
from adaspring_ros.core.search.gc_pause import gc_paused
from adaspring_ros.core.search.profile_memo import ProfileMemo
from adaspring_ros.core.search.objective import (
    ENERGY_OBJECTIVES,
    Evaluation,
    Evaluator,
    energy_term,
)
from adaspring_ros.core.search.search_result import Outcome, SearchResult, timed_search

#: The paper's hardware-efficiency groups (§5.1.2), by structure.
OPERATOR_GROUPS: dict[str, tuple[str, ...]] = {
    "δ1+δ3": ("conv", "fire"),
    "δ2+δ4": ("svd", "dws", ss.SKIP),
}
_GROUP_OF = {s: members for members in OPERATOR_GROUPS.values() for s in members}
_ALL_STRUCTURES: tuple[str, ...] = ss.STRUCTURES + (ss.SKIP,)
#: Candidates kept from the Pareto front at each step (Algorithm 1 line 4).
PARENTS = 2
#: Children per candidate at each layer (2 parents x (1 + 2) = 6 candidates, line 5).
CHILDREN_PER_PARENT = 2
#: Δ' members priced by the evaluator after the context screen (line 4 picks two of them).
SCREEN_KEEP = 6
#: Sweeps over the layers the literal Algorithm 1 may make before giving up on feasibility.
LITERAL_MAX_SWEEPS = 6


def prepare(profile: Profile, energy_objective: str | None = None,
            window: WindowEnergy | None = None, mu1: float | None = None,
            mu2: float | None = None) -> EliteSpace:
    """Build (or fetch) the profile's Δ' and its screen now, so the first search is as fast
    as the rest (the evolution node calls this when it loads the checkpoint)."""
    term = energy_term(profile, energy_objective, mu1, mu2, window)
    space = elite_space(profile, term.kind)
    space.screen(term)
    return space


def normalised_gap(objective: float, optimum: float, worst_feasible: float | None) -> float:
    """Where ``objective`` sits between the optimum (0) and the worst feasible objective (1).

    "Within 5 % of the optimum" means a gap ≤ 0.05 on this scale. Objectives can be negative,
    so a plain ratio to the optimum would be meaningless; the feasible range is the scale on
    which "how much of the achievable improvement was missed" reads directly. Defined only when
    a feasible optimum exists (``worst_feasible`` from the exhaustive search); a one-member
    feasible set has no range, so the gap is 0 if it was found and ``inf`` otherwise.
    """
    if worst_feasible is None:
        raise ValueError("normalised_gap needs a feasible optimum (worst_feasible is None)")
    span = worst_feasible - optimum
    if span <= 0.0:
        return 0.0 if objective <= optimum + 1e-12 else math.inf
    return (objective - optimum) / span


def pareto_pick(cands: Sequence[Evaluation], k: int = PARENTS) -> list[Evaluation]:
    """The ``k`` best candidates by Deb's rule that no other candidate dominates.

    Dominance is on (A loss, energy cost, violation). A dominating candidate never ranks after
    the one it dominates (Eq. 1 is monotone in both), so only earlier-ranked ones are checked.
    """
    ranked = sorted(cands, key=lambda e: e.rank_key)
    picked: list[Evaluation] = []
    seen: set = set()
    for i, c in enumerate(ranked):
        if c.config in seen:
            continue
        a, e, v = c.accuracy_loss, c.energy_cost, c.violation
        dominated = False
        for d in ranked[:i]:
            if (d.accuracy_loss <= a and d.energy_cost <= e and d.violation <= v
                    and (d.accuracy_loss < a or d.energy_cost < e or d.violation < v)):
                dominated = True
                break
        if not dominated:
            picked.append(c)
            seen.add(c.config)
            if len(picked) == k:
                break
    return picked


def _snap(target: float) -> float:
    return min(ss.WIDTHS, key=lambda w: abs(w - target))


def _snap_other(width: float, target: float) -> float:
    """Nearest available width to ``target`` other than ``width`` (ties: toward the target)."""
    others = [w for w in ss.WIDTHS if w != width]
    return min(others, key=lambda w: (abs(w - target), -w if target > width else w))


def _band_noise(sigma: Sequence[float], lo: int, hi: int) -> float:
    band = sigma[max(0, lo):min(len(sigma), hi)]
    return sum(band) / len(band) if len(band) else 0.0


def channel_cut_target(width: float, sigma: Sequence[float],
                       rng: random.Random) -> tuple[float, bool]:
    """Per-channel δ3 noise applied to a width cut, in channel counts: (target width, moved
    down). One draw of the channel-wise mutation rule (paper §4.2.2 and §5.2: "we inject
    Gaussian noise to the channel-wise operator's scaling ratio, and the noise magnitude is
    trainable for channel importance ranking. That is, the more important the channel is, the
    lower intensity of noise we inject"; line 5 mutates candidates "by injecting the
    channel-wise variance", with "the trained architecture importance" as the criterion).

    The layer's C channels are cut after k = round(width·C) (`search_space.scaled`). The
    channels a move would cross are the band down to the next smaller available width
    (removed going down) and the band up to the next larger one (added going up); s_down and
    s_up are their mean trained σ (width units). The cut's displacement is a two-piece
    normal, continuous at the cut: it goes down with probability s_down / (s_down + s_up), by
    |ε|·s_down·C channels, else up by |ε|·s_up·C, ε ~ N(0, 1). So the cut drifts toward the
    side whose channels the network needs less (noisier) and travels further the noisier
    they are; an edge width (no band on
    one side) always moves inward. The caller snaps the target to an available width.
    """
    return draw_cut(width, cut_bands(width, sigma), rng)


def cut_bands(width: float, sigma: Sequence[float]) -> tuple[int, int, float, float]:
    """(C, k, s_down, s_up) of `channel_cut_target` for a cut at ``width``."""
    n = len(sigma)
    k = ss.scaled(n, width)
    lower = [w for w in ss.WIDTHS if w < width]
    upper = [w for w in ss.WIDTHS if w > width]
    s_down = _band_noise(sigma, ss.scaled(n, max(lower)), k) if lower else 0.0
    s_up = _band_noise(sigma, k, ss.scaled(n, min(upper))) if upper else 0.0
    return n, k, s_down, s_up


def draw_cut(width: float, bands: tuple[int, int, float, float],
             rng: random.Random) -> tuple[float, bool]:
    """One draw of `channel_cut_target` from precomputed `cut_bands`."""
    n, k, s_down, s_up = bands
    total = s_down + s_up
    if total <= 0.0:
        return width, False
    down = rng.random() * total < s_down
    shift = abs(rng.gauss(0.0, 1.0)) * (s_down if down else s_up) * n
    return ((k - shift) if down else (k + shift)) / n, down


#: Each profile's mutation noise, a float or {width: cut_bands} per layer, so a search does
#: not re-read 496 values.
_NOISE: ProfileMemo[list] = ProfileMemo()


def mutation_noise(profile: Profile) -> list[float | dict[float, tuple[int, int, float, float]]]:
    """Each compressible layer's noise as the mutation reads it (cached per profile)."""
    return _NOISE.get(profile, lambda: _layer_noise(profile))


def _layer_noise(profile: Profile) -> list:
    noise: list = []
    for layer in range(1, profile.arch.n_compressible + 1):
        value = profile.channel_noise.get(layer, 0.0)
        if isinstance(value, float | int):
            noise.append(max(0.0, float(value)))
        else:
            sigma = [max(0.0, float(v)) for v in value]
            noise.append({w: cut_bands(w, sigma) for w in ss.WIDTHS})
    return noise


class Mutator:
    """Algorithm 1 line 5: the seeded channel-wise and group mutations both algorithms use.

    A layer whose profile noise is one number mutates as before issue 14 (the width plus
    Gaussian noise of that std, in width units); a layer with one σ per channel mutates with
    `channel_cut_target`: the channel-wise child goes to the available width nearest to the
    noisy cut on the side it moved to (at least one step: a child equal to its parent would
    teach the search nothing), the group child's width is the available width nearest to a
    second noisy cut (it may keep the parent's width).
    """

    def __init__(self, profile: Profile, evaluator: Evaluator, rng: random.Random,
                 grouping: bool) -> None:
        self.ev = evaluator
        self.rng = rng
        self.grouping = grouping
        self.noise = mutation_noise(profile)[:evaluator.n_layers]

    def _channel_wise(self, width: float, sigma: float | dict) -> float:
        if isinstance(sigma, float):
            return _snap_other(width, width + self.rng.gauss(0, sigma))
        target, down = draw_cut(width, sigma[width], self.rng)
        side = [w for w in ss.WIDTHS if (w < width if down else w > width)]
        if not side:  # no noise anywhere near the cut
            return _snap_other(width, width)
        return min(side, key=lambda w: abs(w - target))

    def _noisy_width(self, width: float, sigma: float | dict) -> float:
        if isinstance(sigma, float):
            return _snap(width + self.rng.gauss(0, sigma))
        return _snap(draw_cut(width, sigma[width], self.rng)[0])

    def child_options(self, layer: int, option: str) -> list[str]:
        """One candidate at one layer: its two mutated options."""
        structure, width = ss.parse_option(option)
        sigma = self.noise[layer]
        options = []
        if structure != ss.SKIP:  # channel-wise: same structure, noisy width
            options.append(ss.option_id(structure, self._channel_wise(width, sigma)))
        pool = _GROUP_OF[structure] if self.grouping else _ALL_STRUCTURES
        partners = [s for s in pool if s != structure]
        while len(options) < CHILDREN_PER_PARENT:  # a partner structure at a noisy width
            partner = partners[self.rng.randrange(len(partners))]
            if partner == ss.SKIP:
                options.append(ss.SKIP)
            else:
                options.append(ss.option_id(partner, self._noisy_width(width, sigma)))
        return options

    def mutate(self, layer: int, parent: Evaluation) -> list[Evaluation]:
        config = list(parent.config)
        children = []
        for option in self.child_options(layer, parent.config[layer]):
            config[layer] = option
            children.append(self.ev.evaluate(tuple(config)))
        return children


class _Algorithm:
    """What both algorithms hold: the evaluator, the shared mutator, the ablation switches, and
    the counts a SearchResult reports."""

    def __init__(self, evaluator: Evaluator, mutator: Mutator, inheritance: bool,
                 mutation: bool, stop_early: bool = True) -> None:
        self.ev = evaluator
        self.mutator = mutator
        self.inheritance = inheritance
        self.mutation = mutation
        self.stop_early = stop_early
        self.screened = 0  # Δ' members checked against the context (none without Δ')
        self.priced_from_space = 0  # of those, priced by the evaluator


class EliteSearch(_Algorithm):
    """Runtime3C over Δ': two Pareto candidates from the screened space (line 4), then
    mutation layer by layer with inheritance, stopping as the module docstring says."""

    def run(self, space: EliteSpace) -> tuple[Evaluation, str]:
        first = self.line4(space)
        best = first[0]
        if not self.mutation:
            return best, "best elite candidate (no mutation)"
        parents = first
        for layer in range(self.ev.n_layers):
            base = parents if self.inheritance else first
            pool = list(base)
            for parent in base:
                pool.extend(self.mutator.mutate(layer, parent))
            parents = pareto_pick(pool)
            improved = parents[0].rank_key < best.rank_key
            if improved:
                best = parents[0]
            if best.feasible and not improved and self.stop_early:
                return best, f"constraints met; layer {layer + 1} mutation brought no gain"
        if best.feasible:
            return best, "constraints met; mutated through the last layer"
        return best, "no configuration meets every constraint; least violating kept"

    def line4(self, space: EliteSpace) -> list[Evaluation]:
        """Two candidates from the Pareto front of the valid part of Δ'.

        Every member is screened against the context from its cached sums (counted in
        ``screened``); the SCREEN_KEEP best by Eq. (1) are priced by the evaluator, and the two
        Pareto-best of those are the candidates. If no member is valid, the least violating
        ones are priced instead.
        """
        ev = self.ev
        screen = space.screen(ev.term)
        self.screened = len(space.members)
        valid = np.flatnonzero((screen.loss <= ev.threshold)
                               & (screen.latency_ms <= ev.latency_budget)
                               & (screen.params_bytes <= ev.storage_budget))
        if valid.size:
            objective = (ev.lambda1 * screen.norm_accuracy[valid]
                         + ev.lambda2 * screen.energy_cost[valid])
            top = valid[np.argsort(objective, kind="stable")[:SCREEN_KEEP]].tolist()
        else:  # nothing meets the context: the least violating, by the evaluator's own measure
            violation = ev.violation_of
            objective = (ev.lambda1 * screen.norm_accuracy + ev.lambda2 * screen.energy_cost)
            rows = zip(screen.loss.tolist(), screen.latency_ms.tolist(),
                       screen.params_bytes.tolist(), objective.tolist(), strict=True)
            ranked = heapq.nsmallest(SCREEN_KEEP, ((violation(a, t, p), j, i)
                                                   for i, (a, t, p, j) in enumerate(rows)))
            top = [i for _, _, i in ranked]
        members = space.members
        priced = [ev.evaluate_known(members[i].config, members[i].sums) for i in top]
        self.priced_from_space = len(priced)
        return pareto_pick(priced)


class LiteralSearch(_Algorithm):
    """Algorithm 1 as written, without Δ': from the backbone, at each layer price the group
    members at the inherited width, two Pareto candidates, six after mutation, one survivor."""

    def layer_members(self, width: float) -> list[str]:
        """Options priced at a layer without Δ': each structure at the inherited width."""
        if not self.mutator.grouping:
            return list(ss.OPTIONS)
        members = [ss.UNCOMPRESSED]
        for structure in _ALL_STRUCTURES:
            if structure == ss.SKIP:
                members.append(ss.SKIP)
            elif structure == "conv" and width == 1.0:  # conv@1.0 is "keep"; δ3 steps down
                members.append(ss.option_id(structure, ss.WIDTHS[1]))
            else:
                members.append(ss.option_id(structure, width))
        return members

    def solve_layer(self, layer: int, incumbent: Evaluation, width: float) -> Evaluation:
        config = list(incumbent.config)
        priced = []
        for option in self.layer_members(width):
            config[layer] = option
            priced.append(self.ev.evaluate(tuple(config)))
        parents = pareto_pick(priced)
        pool = [incumbent] + parents
        if self.mutation:
            for parent in parents:
                pool.extend(self.mutator.mutate(layer, parent))
        return min(pool, key=lambda e: e.rank_key)

    def run(self, space: EliteSpace | None = None) -> tuple[Evaluation, str]:
        """Stop at the first configuration that meets every constraint; sweep the layers again
        from the inherited configuration while that still changes it."""
        backbone = self.ev.evaluate(ss.backbone_configuration(self.ev.arch))
        if not self.inheritance:
            return self._independent_layers(backbone)
        current = backbone
        for sweep in range(1, LITERAL_MAX_SWEEPS + 1):
            start = current
            width = 1.0
            for layer in range(self.ev.n_layers):
                if sweep > 1 or current.config[layer] != ss.UNCOMPRESSED:
                    width = ss.parse_option(current.config[layer])[1]
                current = self.solve_layer(layer, current, width)
                width = ss.parse_option(current.config[layer])[1]
                if current.feasible and self.stop_early:
                    return current, f"constraints met at layer {layer + 1}, sweep {sweep}"
            if current.config == start.config:
                break
        if current.feasible:  # only without the early stop: every sweep ran
            return current, f"constraints met; swept until nothing changed ({sweep} sweeps)"
        return current, "no configuration meeting every constraint found; least violating kept"

    def _independent_layers(self, backbone: Evaluation) -> tuple[Evaluation, str]:
        """Without inheritance: every layer solved against the backbone, then combined."""
        chosen, best = [], backbone
        for layer in range(self.ev.n_layers):
            survivor = self.solve_layer(layer, backbone, 1.0)
            chosen.append(survivor.config[layer])
            best = min(best, survivor, key=lambda e: e.rank_key)
        best = min(best, self.ev.evaluate(tuple(chosen)), key=lambda e: e.rank_key)
        return best, "layers solved against the backbone, not inherited"


def _search(profile: Profile, context: DeploymentContext, *, seed: int = 0,
           mu1: float | None = None, mu2: float | None = None,
           lambda_fn: LambdaFn | None = None, grouping: bool = True, inheritance: bool = True,
           mutation: bool = True, elite: bool = True, stop_early: bool = True,
           space: EliteSpace | None = None, energy_objective: str | None = None,
           window: WindowEnergy | None = None) -> SearchResult:
    """Runtime3C: the configuration for ``context``; never raises on a valid context.

    seed: seeds the channel-wise mutation noise; equal inputs give equal results.
    mu1, mu2: Eq. (2) aggregation coefficients (default: the profile's).
    lambda_fn: battery -> (λ1, λ2) when the context has none (default lambdas_from_battery).
    grouping, inheritance, mutation: switch off one mechanism each (the §6.5 ablations).
    stop_early: False drops Algorithm 1's stop (lines 10-12) (an ablation, see the module).
    elite: False runs Algorithm 1 literally, from the backbone, without Δ'.
    space: a Δ' to search instead of the profile's cached one (e.g. a 3-axis one).
    energy_objective: "joules" (default: energy per window) or "paper" (Eq. 2's E); window:
    the per-window energy constants (default core.model.energy's).
    Raises ContextError on an invalid context and ValueError on bad μ or objective. The first
    call for a profile and objective also builds its Δ' (0.3-4 s here) unless ``prepare``
    was called.
    """
    if not elite:
        space = None
    elif space is None:
        space = elite_space(profile, energy_objective or ENERGY_OBJECTIVES[0])
    off = [name for name, on in (("elite", elite), ("grouping", grouping),
                                 ("inheritance", inheritance), ("mutation", mutation),
                                 ("early-stop", stop_early)) if not on]
    method = "runtime3c" + "".join("-no-" + name for name in off)

    def body(ev: Evaluator, started: float) -> Outcome:
        mutator = Mutator(profile, ev, random.Random(seed), grouping)
        algorithm = (EliteSearch if elite else LiteralSearch)(ev, mutator, inheritance, mutation,
                                                              stop_early)
        best, how = algorithm.run(space)
        children = ev.count - algorithm.priced_from_space
        details = {"elite_size": len(space.members) if space else 0,
                   "screened": algorithm.screened, "mutation_children": children,
                   "encoding_length": len(progressive_encode(best.config))}
        # every Δ' member was checked against the context, plus each distinct mutated child
        return Outcome(best, method, f"{_summary(best.config)}: {how}", details,
                       candidates=algorithm.screened + children)

    return timed_search(profile, context, body, mu1=mu1, mu2=mu2, lambda_fn=lambda_fn,
                        energy_objective=energy_objective, window=window)


search = gc_paused(_search)  # the public entry point; see gc_pause for why


def _summary(config: Sequence[str]) -> str:
    if all(op == ss.UNCOMPRESSED for op in config):
        return "full backbone"
    return "layers 1-{}: {}".format(len(config), " ".join(config))
