"""Sound events from a stream of window probabilities: k-of-n onset, hysteresis offset.

The inference node classifies overlapping 1 s windows (hop <= 0.5 s) and hands every window's
calibrated class probabilities to `EventTracker.push`; what comes back is what to publish:

- ``onset``: a class just passed its rule (k of the last n windows at or above its threshold,
  and, where the rule has a hold, the sound has gone on for ``hold_s``; one that stops sooner
  makes no event at all).
  Emergency onsets carry ``notify=True`` unless the same class was notified within
  ``notify_cooldown_s`` (one notification per alarm, not one per fragment);
- ``closed``: the event ended, after ``off_windows`` windows below the release level, or because
  the audio stopped (`close_all`: the end is the last audio the stream delivered, never later).
  This is the one record per event: label, start, duration, peak and mean confidence,
  urgency, how long confirmation took. With the policy's ``merge_gap_s`` > 0, an event that
  ended waits (pending) until no confirmation of its class can start within that gap of its
  end; one that does continues it (no second onset, no second notification), so the record
  comes out up to ``merge_gap_s`` + n hops after the sound's end.

Times are audio times in ns (a window's first sample); the event's start and end are the
centres of its first and last positive windows, widened by half a hop, so a 1 s sound heard by
hop-0.5 s windows is reported as about 1-1.5 s long rather than 2 s (a window that holds the
sound's edge is positive too). Pure Python, no ROS.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np

from adaspring_ros.core.events.policy import EMERGENCY, EventPolicy

NS = 1_000_000_000

END_OFFSET = "offset"
END_STREAM = "stream_end"


@dataclass(frozen=True)
class WindowScore:
    """One classified window: audio time of its first sample, probabilities per class."""

    start_ns: int
    probs: np.ndarray
    sequence: int = 0
    config_id: int = 0


@dataclass(frozen=True)
class SoundEventRecord:
    event_id: int
    label: str
    class_index: int
    urgency: str
    start_ns: int
    end_ns: int
    confirmed_ns: int  # audio time at which the rule was met (end of the confirming window)
    peak_confidence: float
    mean_confidence: float
    windows: int  # positive windows
    first_sequence: int
    last_sequence: int
    config_id: int
    end_reason: str = ""
    merged: int = 0  # continuations within merge_gap_s merged into this event

    @property
    def duration_s(self) -> float:
        return max(0.0, (self.end_ns - self.start_ns) / NS)

    @property
    def detection_delay_s(self) -> float:
        """From the estimated start to confirmation, audio time."""
        return (self.confirmed_ns - self.start_ns) / NS

    @property
    def emergency(self) -> bool:
        return self.urgency == EMERGENCY


@dataclass(frozen=True)
class EventUpdate:
    kind: str  # "onset" or "closed"
    event: SoundEventRecord
    notify: bool = False


class _Open:
    """An event being tracked (mutable, private)."""

    def __init__(self, event_id, label, index, urgency, first, confirm_ns, probs_run):
        self.event_id, self.label, self.index, self.urgency = event_id, label, index, urgency
        self.first = first  # first positive WindowScore of the confirming run
        self.last = first
        self.confirm_ns = confirm_ns
        self.values = list(probs_run)
        self.below = 0
        self.last_config = first.config_id
        self.merged = 0  # continuations merged into this event (merge_gap_s)
        self.held = True  # False while it has not yet lasted its rule's hold_s


class EventTracker:
    """Per-class k-of-n voting over the window stream; see the module docstring."""

    def __init__(self, policy: EventPolicy) -> None:
        self.policy = policy.validate()
        self._index = {label: i for i, label in enumerate(policy.classes)}
        self._history: dict[str, deque] = {}
        self._open: dict[str, _Open] = {}
        self._pending: dict[str, _Open] = {}  # ended, waiting merge_gap_s for a continuation
        self._last_notified: dict[str, int] = {}
        self._ids = itertools.count(1)
        self.last_audio_ns: int | None = None
        self.windows = 0
        self.events_closed = 0
        self.notifications = 0
        self.suppressed_notifications = 0
        self.discarded = 0  # sounds that passed the vote but stopped before their hold

    @property
    def open_events(self) -> tuple[str, ...]:
        return tuple(self._open)

    @property
    def pending_events(self) -> tuple[str, ...]:
        """Classes whose event ended but may still continue (merge_gap_s), not yet closed."""
        return tuple(self._pending)

    def _event_start(self, w: WindowScore) -> int:
        return self._centre(w) - self._half_hop()

    def _centre(self, w: WindowScore) -> int:
        return w.start_ns + int(self.policy.window_s * NS / 2)

    def _half_hop(self) -> int:
        return int(self.policy.hop_s * NS / 2)

    def push(self, window: WindowScore) -> list[EventUpdate]:
        probs = np.asarray(window.probs, dtype=np.float64)
        if probs.shape != (len(self.policy.classes),) or not np.isfinite(probs).all():
            raise ValueError(f"window probabilities must be {len(self.policy.classes)} finite "
                             f"values, got shape {probs.shape}")
        self.windows += 1
        end_ns = window.start_ns + int(self.policy.window_s * NS)
        self.last_audio_ns = end_ns if self.last_audio_ns is None else max(self.last_audio_ns,
                                                                          end_ns)
        out: list[EventUpdate] = []
        for label, index in self._index.items():
            rule = self.policy.rule(label)
            if rule is None:
                continue
            p = float(probs[index])
            hist = self._history.setdefault(label, deque(maxlen=rule.depth))
            hist.append((p >= rule.threshold, p, window))
            current = self._open.get(label)
            if current is not None:
                if p >= rule.threshold * self.policy.release_ratio:
                    current.below = 0
                    current.values.append(p)
                    current.last = window
                    current.last_config = window.config_id
                    if not current.held and self._lasted(current) >= rule.hold_s:
                        out.append(self._announce(current, end_ns))
                else:
                    current.below += 1
                    if current.below >= self.policy.off_windows:
                        out += self._end(label)
                continue
            pending = self._pending.get(label)
            if self._rule_met(rule, hist):
                if pending is not None and self._continues(pending, hist):
                    ev = self._reopen(label, hist)
                    if not ev.held and self._lasted(ev) >= rule.hold_s:
                        out.append(self._announce(ev, end_ns))
                    continue
                if pending is not None:
                    out += self._publish_pending(label)
                out += self._confirm(label, index, rule.urgency, hist, end_ns)
            elif pending is not None and self._gap_passed(pending, hist, window):
                out += self._publish_pending(label)
        return out

    @staticmethod
    def _rule_met(rule, hist) -> bool:
        """k of the last n windows at the threshold, or (short-sound path) short_k of the last
        short_n at the short threshold, or (single-window path) the last window at the
        single-window threshold."""
        votes = list(hist)
        if sum(1 for hit, _, _ in votes[-rule.n:] if hit) >= rule.k:
            return True
        if rule.single_threshold > 0.0 and votes and votes[-1][1] >= rule.single_threshold:
            return True
        return rule.short and sum(1 for _, p, _ in votes[-rule.short_n:]
                                  if p >= rule.short_threshold) >= rule.short_k

    # ---------------------------------------------------------------- merging (merge_gap_s)
    def _pending_end(self, ev: _Open) -> int:
        return self._centre(ev.last) + self._half_hop()

    def _continues(self, ev: _Open, hist) -> bool:
        """Would the event confirmed from ``hist`` start within merge_gap_s of ``ev``'s end?"""
        first = next(w for hit, _, w in hist if hit)
        gap_ns = self._event_start(first) - self._pending_end(ev)
        return gap_ns <= int(self.policy.merge_gap_s * NS)

    def _gap_passed(self, ev: _Open, hist, window: WindowScore) -> bool:
        """No confirmation can start within the gap any more: its first vote would be one in
        the history or a later window, all starting later than the gap allows."""
        earliest = min([self._event_start(w) for hit, _, w in hist if hit]
                       + [self._event_start(window)])
        return earliest - self._pending_end(ev) > int(self.policy.merge_gap_s * NS)

    def _reopen(self, label: str, hist) -> _Open:
        ev = self._pending.pop(label)
        positives = [(p, w) for hit, p, w in hist if hit]
        ev.values += [p for p, _ in positives]
        ev.last = positives[-1][1]
        ev.last_config = ev.last.config_id
        ev.below = 0
        ev.merged += 1
        self._open[label] = ev
        hist.clear()
        return ev

    def _end(self, label: str) -> list[EventUpdate]:
        """The event's offset: closed now, or pending for merge_gap_s (a sound still short of
        its hold too: a continuation within the gap counts towards it)."""
        if self.policy.merge_gap_s <= 0.0:
            if not self._open[label].held:
                self._discard(label)
                return []
            return [self._close(label, END_OFFSET, None)]
        self._pending[label] = self._open.pop(label)
        self._history.pop(label, None)  # the event's own tail must not start a new one
        return []

    def _publish_pending(self, label: str) -> list[EventUpdate]:
        ev = self._pending.pop(label)
        if not ev.held:  # stopped short of its hold and did not go on: no event
            self.discarded += 1
            return []
        self.events_closed += 1
        return [EventUpdate("closed", self._record(ev, END_OFFSET))]

    def _lasted(self, ev: _Open) -> float:
        """How long the sound has gone on so far, s (the record's start to its end)."""
        return (self._pending_end(ev) - self._event_start(ev.first)) / NS

    def _discard(self, label: str) -> None:
        """A sound that passed the vote but stopped before its hold: no event at all."""
        self._open.pop(label)
        self._history.pop(label, None)
        self.discarded += 1

    def _confirm(self, label, index, urgency, hist, end_ns) -> list[EventUpdate]:
        positives = [(p, w) for hit, p, w in hist if hit]
        first = positives[0][1]
        ev = _Open(next(self._ids), label, index, urgency, first, end_ns,
                   [p for p, _ in positives])
        ev.last = positives[-1][1]
        ev.last_config = ev.last.config_id
        self._open[label] = ev
        hist.clear()
        rule = self.policy.rule(label)
        if self._lasted(ev) < rule.hold_s:
            ev.held = False  # tracked, confirmed (and notified) once it has lasted hold_s
            return []
        return [self._announce(ev, end_ns)]

    def _announce(self, ev: _Open, end_ns: int) -> EventUpdate:
        """The event is confirmed at ``end_ns``: its onset, and the notification if due."""
        ev.held = True
        ev.confirm_ns = end_ns
        label, urgency = ev.label, ev.urgency
        notify = False
        if urgency == EMERGENCY:
            last = self._last_notified.get(label)
            cooldown = int(self.policy.notify_cooldown_s * NS)
            if last is None or end_ns - last >= cooldown:
                notify = True
                self._last_notified[label] = end_ns
                self.notifications += 1
            else:
                self.suppressed_notifications += 1
        return EventUpdate("onset", self._record(ev, END_OFFSET, open_end=True), notify)

    def _record(self, ev: _Open, reason: str, open_end: bool = False,
                end_cap_ns: int | None = None) -> SoundEventRecord:
        start = self._centre(ev.first) - self._half_hop()
        end = self._centre(ev.last) + self._half_hop()
        if end_cap_ns is not None:
            end = min(end, end_cap_ns)
        if open_end:
            end = max(start, min(end, ev.confirm_ns))
        return SoundEventRecord(
            event_id=ev.event_id, label=ev.label, class_index=ev.index, urgency=ev.urgency,
            start_ns=start, end_ns=max(start, end), confirmed_ns=ev.confirm_ns,
            peak_confidence=float(max(ev.values)), mean_confidence=float(np.mean(ev.values)),
            windows=len(ev.values), first_sequence=ev.first.sequence,
            last_sequence=ev.last.sequence, config_id=ev.last_config,
            end_reason="" if open_end else reason, merged=ev.merged)

    def _close(self, label: str, reason: str, end_cap_ns: int | None) -> EventUpdate:
        ev = self._open.pop(label)
        self._history.pop(label, None)  # the event's own tail must not start a new one
        self.events_closed += 1
        return EventUpdate("closed", self._record(ev, reason, end_cap_ns=end_cap_ns))

    def close_all(self, reason: str = END_STREAM) -> list[EventUpdate]:
        """The audio stopped (or jumped): publish the pending events (they ended before), close
        every open event at the last audio time (one still short of its hold is no event) and
        forget the partial votes (windows across a gap are not consecutive)."""
        out = [u for label in list(self._pending) for u in self._publish_pending(label)]
        for label in list(self._open):
            if self._open[label].held:
                out.append(self._close(label, reason, self.last_audio_ns))
            else:
                self._discard(label)
        self._history.clear()
        return out
