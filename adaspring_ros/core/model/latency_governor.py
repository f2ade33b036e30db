"""When measured latency should re-run the search, without oscillating.

Measured on this 2-core machine under a CPU hog: a 1 ms model's median barely moves, its p95
jumps by preemptions of several ms, and a smaller model (shorter forward call) is preempted
less often, so its tail is smaller. A correction learned from the small model therefore says
the big one would fit again, the big one goes over budget again, and so on: the naive loop
oscillates. The governor keeps the loop stable:

- **over budget**: the configuration in force has measured p95 > T_bgt in reports spanning
  ``over_hold_s``, and the table budget the recent reports allow is at least 5 % below the one
  the last search used (else the same configuration would come back). The correction that
  proved it is *held*: while held, searches use the more pessimistic of it and the current one,
  and aim ``over_margin`` below T_bgt. Why the margin: without it the search picks the network
  predicted just under T_bgt, which measures over it about half the time; in the load step
  (session 11, a 1 kHz real-time load) the loop then came down in 3-4 steps of 3-5 s each.
- **load fell** (release the hold): the configuration in force, compared with itself once it
  settled (``min_dwell_s`` after its search), now allows a table budget 1 / ``fall_ratio`` as
  large for ``fall_hold_s`` x 2^k (k as below); or the machine's CPU busy share (all cores,
  every process) is ``cpu_fall_share`` below what it was when the hold was taken, for as long.
  Why the second signal: the reduced configuration settles ``min_dwell_s`` after its search,
  and a load that ends before then (a hold taken on the last seconds of a hog, because the
  p95 lags by ``over_hold_s``) leaves it nothing to compare with; measured in the load step of
  benchmarks/bench_adaptation.py, that run found no scale-up within 40 s of the hog's end.
- **probing**: a load that hurts the big model's tail more than the small one's may end
  without the small one noticing; after ``probe_s`` x 2^k in a reduced configuration the hold is
  released anyway. k grows by one each time a scale-up (either kind) is followed by "over
  budget" within the probe interval (once per scale-up, however many "over budget" follow it),
  and is reset after a scale-up that holds for two intervals: bounded attempts, exponentially
  rarer under a lasting or fluctuating load. With the CPU signal on, a probe is **deferred**
  (the wait doubles, without counting as a failure) while the machine is as busy as when the
  hold was taken (the veto's rule below): the load the hold answered is evidently still there.
  Why: measured in the load step (session 12, 60 s of the 1 kHz real-time load, three runs),
  each probe under the load cost two evolutions (the probe and the "over budget" after it), so
  a two-step descent plus one probe made 5 evolutions under one load change (target 4). The
  cost: a load the CPU share cannot see (say, memory bandwidth taken by another chip) that
  ends is found by a probe at 2x, 4x ... the probe interval instead of 1x.
- without a hold, **load fell** also fires when the allowed table budget grew to 1 /
  ``fall_ratio`` of the last search's (the load at start was higher than later).
- **CPU veto**: with the CPU signal on, a latency-based "load fell" (either kind) does not
  fire while the machine is as busy as at its reference (the hold's busy share, or the last
  search's without a hold: within ``cpu_fall_share`` / 2 of it). Why: under a hog a reduced
  configuration's p95 swings widely from second to second, so its "own latency fell" now and then
  although the hog runs on. Measured in the load step of benchmarks/bench_adaptation.py (session
  8 checkpoint, quiet machine): one run of two scaled up under the hog on "config 6's own latency
  fell", 21 s before the hog ended, went over budget 3 s later, and made 6 evolutions under the
  hog (target 4).
No trigger fires within ``min_dwell_s`` of the previous search.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from adaspring_ros.core.model.latency_feedback import LatencyFeedback, table_budget

OVER = "measured latency over budget"
FELL = "load fell"
PROBE = "probing"
#: seconds of CPU samples the busy share is averaged over (the hold's and the current one)
CPU_WINDOW_S = 2.0


@dataclass(frozen=True)
class Snapshot:
    """A correction at one moment: table budget for any T_bgt."""

    factor: float
    tail_ms: float
    t_load_ms: float

    def table_budget(self, budget_ms: float, floor_ms: float) -> float:
        return table_budget(budget_ms, self.factor, self.tail_ms, self.t_load_ms, floor_ms)

    def text(self) -> str:
        return f"x{self.factor:.2f} + {self.tail_ms:.2f} ms"


class LatencyGovernor:
    def __init__(self, feedback: LatencyFeedback, cpu_fall_share: float = 0.0) -> None:
        """``cpu_fall_share``: the drop of the machine's CPU busy share (0-1, all cores) that
        counts as "load fell" while a hold is on; 0 uses the latency reports alone."""
        if not (math.isfinite(cpu_fall_share) and 0.0 <= cpu_fall_share <= 1.0):
            raise ValueError(f"cpu_fall_share must be in [0, 1]; got {cpu_fall_share!r}")
        self.fb = feedback
        self.s = feedback.settings
        self.cpu_fall_share = cpu_fall_share
        self._cpu: deque[tuple[float, float]] = deque()
        self.held_cpu: float | None = None
        self.searched_cpu: float | None = None  # busy share when the last search ran
        self.at_search = Snapshot(1.0, 0.0, 0.0)
        self.searched_at_s = -math.inf
        self.held: Snapshot | None = None
        self.base: float | None = None  # settled table budget of the configuration in force
        self.backoff = 0
        self.last_up_s = -math.inf
        self._over_since: float | None = None
        self._fell_since: float | None = None
        self.probe_deferrals = 0  # since the last search: each doubles the wait for a probe
        self.probes_deferred = 0  # all along, for diagnostics

    def note_cpu(self, now_s: float, busy_share: float) -> None:
        """One sample of the machine's CPU busy share (0-1, all cores); non-finite ignored."""
        if not math.isfinite(busy_share):
            return
        self._cpu.append((now_s, min(1.0, max(0.0, busy_share))))
        while self._cpu and self._cpu[0][0] < now_s - 4 * CPU_WINDOW_S - self.s.over_hold_s:
            self._cpu.popleft()

    def _cpu_mean(self, since_s: float) -> float | None:
        values = [b for t, b in self._cpu if t >= since_s]
        return sum(values) / len(values) if values else None

    def _cpu_as_busy(self, now_s: float, reference: float | None) -> bool:
        """The CPU signal says the load has not fallen since ``reference`` (the veto)."""
        if self.cpu_fall_share <= 0.0 or reference is None:
            return False
        now = self._cpu_mean(now_s - CPU_WINDOW_S)
        return now is not None and now >= reference - self.cpu_fall_share / 2

    def _cpu_fell(self, now_s: float) -> bool:
        if self.cpu_fall_share <= 0.0 or self.held_cpu is None:
            return False
        now = self._cpu_mean(now_s - CPU_WINDOW_S)
        return now is not None and now <= self.held_cpu - self.cpu_fall_share

    def snapshot(self, now_s: float) -> Snapshot:
        return Snapshot(self.fb.factor(now_s), self.fb.tail_ms(now_s), self.fb.t_load_ms())

    def search_budget(self, budget_ms: float, now_s: float) -> float:
        """The table budget the next search must use (pessimistic while a hold is on)."""
        allowed = self.fb.effective_budget_ms(budget_ms, now_s)
        if self.held is not None:
            allowed = min(allowed, self.held.table_budget(self._aim(budget_ms), self.fb.floor_ms))
        return allowed

    def _aim(self, budget_ms: float) -> float:
        """The T_bgt a held search aims at: ``over_margin`` below the application's."""
        return budget_ms * (1.0 - self.s.over_margin)

    def corrected_ms(self, table_ms: float, budget_ms: float, now_s: float) -> float:
        """Predicted p95 on the measured scale, consistent with ``search_budget``."""
        snap = self.held if self.held is not None and self.held.table_budget(
            self._aim(budget_ms), 0.0) < self.fb.effective_budget_ms(budget_ms, now_s) else \
            self.snapshot(now_s)
        return table_ms * snap.factor + snap.tail_ms + snap.t_load_ms

    def mark_searched(self, now_s: float) -> None:
        """A search ran (whatever caused it); a new configuration is about to run."""
        self.at_search = self.snapshot(now_s)
        self.searched_at_s = now_s
        self.searched_cpu = self._cpu_mean(now_s - CPU_WINDOW_S)
        self.base = None
        self.probe_deferrals = 0
        self._over_since = self._fell_since = None

    def _searched_budget(self, budget_ms: float) -> float:
        floor = self.fb.floor_ms
        before = self.at_search.table_budget(budget_ms, floor)
        return before if self.held is None else min(
            before, self.held.table_budget(self._aim(budget_ms), floor))

    def decide(self, current_id: int, budget_ms: float, now_s: float) -> str | None:
        """Why to re-evolve on measured latency now (OVER / FELL / PROBE ...), or None."""
        report = self.fb.latest.get(current_id)
        over = (report is not None and report.windows >= self.s.min_windows
                and report.p95_ms > budget_ms)
        self._over_since = (now_s if self._over_since is None else self._over_since) \
            if over else None
        if self.held is None and now_s - self.last_up_s >= 2 * self._probe_interval():
            self.backoff = 0
        if now_s - self.searched_at_s < self.s.min_dwell_s:
            return None
        if self._over_since is not None and now_s - self._over_since >= self.s.over_hold_s:
            reason = self._over(report, current_id, budget_ms, now_s)
            if reason:
                return reason
        if self.held is not None:
            return self._release(current_id, budget_ms, now_s)
        return self._unheld_fall(budget_ms, now_s)

    def _over(self, report, current_id: int, budget_ms: float, now_s: float) -> str | None:
        since = self._over_since - 1.0
        # judged at the margin the next search would aim at, as the hold's search was
        if self.fb.table_budget_since(since, self._aim(budget_ms), now_s) > \
                0.95 * self._searched_budget(budget_ms):
            return None
        self.fb.rebase(since)
        if now_s - self.last_up_s < self._probe_interval():
            self.backoff += 1  # the last scale-up did not hold
            self.last_up_s = -math.inf  # counted: a second "over" after it is not another
        before = self.at_search
        self.held = self.snapshot(now_s)
        # the load while the p95 was over budget, before the reduced configuration runs
        self.held_cpu = self._cpu_mean(self._over_since - CPU_WINDOW_S)
        return (f"{OVER}: p95 {report.p95_ms:.3f} ms > T_bgt {budget_ms:.3f} ms (config "
                f"{current_id}; correction {before.text()} -> {self.held.text()})")

    def _probe_interval(self) -> float:
        return self.s.probe_s * 2 ** self.backoff

    def _release(self, current_id: int, budget_ms: float, now_s: float) -> str | None:
        own = self.fb.table_budget_since(self.searched_at_s, budget_ms, now_s, current_id)
        if self.base is None:
            self.base = own  # settled: the configuration in force under the held load
        own_fell = own * self.s.fall_ratio >= self.base and not self._cpu_as_busy(
            now_s, self.held_cpu)
        fell = own_fell or self._cpu_fell(now_s)
        self._fell_since = (now_s if self._fell_since is None else self._fell_since) \
            if fell else None
        held = self.held.text()
        hold = self.s.fall_hold_s * 2 ** self.backoff
        if self._fell_since is not None and now_s - self._fell_since >= hold:
            why = (f"config {current_id}'s own latency fell" if own_fell else
                   f"CPU busy share {self._cpu_mean(now_s - CPU_WINDOW_S):.2f}, "
                   f"{self.held_cpu:.2f} when held")
            self._scale_up(now_s, self._fell_since - 1.0)
            return f"{FELL}: {why} (held correction {held})"
        wait = self._probe_interval() * 2 ** self.probe_deferrals
        if now_s - self.searched_at_s >= wait:
            if self._cpu_as_busy(now_s, self.held_cpu):
                self.probe_deferrals += 1  # the load the hold was taken under runs on
                self.probes_deferred += 1
                return None
            self._scale_up(now_s, now_s - self.s.min_dwell_s)
            return (f"{PROBE}: {wait:.0f} s in a reduced configuration; "
                    f"held correction {held} released")
        return None

    def _scale_up(self, now_s: float, rebase_since: float) -> None:
        self.held = None
        self.held_cpu = None
        self.last_up_s = now_s
        self.fb.rebase(rebase_since)

    def _unheld_fall(self, budget_ms: float, now_s: float) -> str | None:
        before = self._searched_budget(budget_ms)
        fell = (self.fb.effective_budget_ms(budget_ms, now_s) * self.s.fall_ratio >= before
                and not self._cpu_as_busy(now_s, self.searched_cpu))
        self._fell_since = (now_s if self._fell_since is None else self._fell_since) \
            if fell else None
        if self._fell_since is None or now_s - self._fell_since < self.s.fall_hold_s:
            return None
        self._scale_up(now_s, self._fell_since - 1.0)
        return f"{FELL}: correction {self.at_search.text()} -> {self.snapshot(now_s).text()}"

    def diagnostics(self, now_s: float) -> dict[str, str]:
        values = self.fb.diagnostics(now_s)
        values["latency_hold"] = "none" if self.held is None else self.held.text()
        cpu = self._cpu_mean(now_s - CPU_WINDOW_S)
        values["cpu_busy_share"] = "n/a" if cpu is None else f"{cpu:.2f}"
        values["cpu_busy_share_at_hold"] = ("n/a" if self.held_cpu is None
                                            else f"{self.held_cpu:.2f}")
        values["latency_probe_backoff"] = str(self.backoff)
        values["latency_probes_deferred"] = str(self.probes_deferred)
        return values
