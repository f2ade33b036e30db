"""Which classes matter how much, and what evidence an event needs: the event policy (issue 11).

Every class has an urgency and a rule:

- **emergency** (fire alarm, smoke alarm, kettle whistle): notified at once, on the
  notifications topic, when the event is confirmed;
- **social** (doorbell, door knock, baby crying, phone ringing): someone wants the user;
  reported as events, not notified;
- **ambient** (microwave beep, and any class not listed): reported as events only.

A rule is a calibrated-probability threshold and a k-of-n vote over consecutive overlapping
windows: an event is confirmed when k of the last n windows give the class a probability of at
least the threshold, and it ends after ``off_windows`` consecutive windows below
``release_ratio`` x threshold (hysteresis: a fire alarm's 1.5 s pause does not split it in
two). An event of the same class confirmed again within ``merge_gap_s`` of an event's end
continues that event (one long sound whose confidence dips for a few windows is one event, not
two); the ended event is published once that gap has passed. A rule may also have a short-sound
path: k of the last n windows at or above a higher threshold confirm too, so a one-second
doorbell or knock that is heard with high confidence is reported though it cannot give the main
rule's votes; and a single-window path: one window at or above its threshold confirms (a knock
sequence fits in one window). A rule may also have a hold (``hold_s``): a sound that passed the
vote is only confirmed once it has gone on (hysteresis and merge gap included) for that long,
and one that stops sooner (and does not go on within ``merge_gap_s``) is no event at all. Real
alarms keep sounding: a smoke or fire alarm repeats the ISO 8201 / NFPA 72 temporal-three
pattern (a 4 s cycle) as long as there is smoke, a kettle whistles until it is taken off the
heat; so the emergency classes hold for a few seconds, which removes the 1-4 s bursts of
alarm-like TV music that no threshold separates (`DEFAULT_HOLD_S`). The background class never
makes events. Pure Python, no ROS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

EMERGENCY = "emergency"
SOCIAL = "social"
AMBIENT = "ambient"
URGENCIES: tuple[str, ...] = (AMBIENT, SOCIAL, EMERGENCY)  # index = the message's urgency code

DEFAULT_URGENCY: dict[str, str] = {
    "fire_alarm": EMERGENCY, "smoke_alarm": EMERGENCY, "kettle_whistle": EMERGENCY,
    "doorbell": SOCIAL, "door_knock": SOCIAL, "baby_crying": SOCIAL, "phone_ringing": SOCIAL,
    "microwave_beep": AMBIENT,
}
#: default (threshold, k, n) per urgency, chosen with `benchmarks/bench_events.py --sweep` on the
#: shipped checkpoint (hop 0.5 s): 3 of 4 windows (1.5 s of sound) cut false alarms on event-free
#: home audio 4x against 2 of 3 at the same emergency recall (98.3 %), at 1.43 s median delay;
#: emergencies need less confidence than the rest (a missed fire alarm costs more than a false
#: one). One-second sounds (the scripted day's clips) rarely give 3 votes: see the README.
DEFAULT_RULES: dict[str, tuple[float, int, int]] = {
    EMERGENCY: (0.7, 3, 4), SOCIAL: (0.8, 3, 4), AMBIENT: (0.8, 3, 4),
}


#: the short-sound path per urgency (threshold, k, n); threshold 0 = none. Chosen with
#: `benchmarks/bench_events.py --short-rules` on the shipped checkpoint: against none it gave
#: the same false alarms on 60 min of event-free home audio (2.0 emergency notifications, 2.0
#: social events per hour) and no more false emergencies in the event set's home audio, held-out
#: event recall 95.6 -> 96.9 %, precision 95.0 -> 95.1 %, median delay 1.43 -> 0.96 s, and the
#: scripted day's one-second clips 16.2 -> 38.9 % recall (emergencies 16.4 -> 55.7 %). A single
#: window at 0.99 for emergencies added a false fire alarm in the event set; 2 of 2 at 0.98 for
#: social classes 2 false social events per hour, 1 of 1 at 0.995 eight.
#: Ambient 2 of 2 at 0.95 (was 0.99): a microwave's 1-2 s of beeps gives two windows at
#: 0.94-0.99; the scripted day found 80 -> 93 % of them, with no false event on the tuning
#: stream (120 min, seeds 9001+) nor in the event set (`--short-rules`).
DEFAULT_SHORT_RULES: dict[str, tuple[float, int, int]] = {
    EMERGENCY: (0.995, 1, 1), SOCIAL: (0.99, 2, 2), AMBIENT: (0.95, 2, 2),
}
#: per-class thresholds of the main rule over their urgency's (the class_thresholds parameter);
#: none shipped. Doorbell and knock at 0.85 took the tuning stream (120 min, seeds 9001+) from
#: 3.0 to 2.0 false social events per hour and one false doorbell from the event set they were
#: chosen with, but did not validate: on the report stream (seeds 9501+) they removed none of the
#: 3.5/h, and on a fresh event set (`bench_events.py --event-seed 9700`) they cost one knock
#: (all-class recall 93.1 -> 92.5 %), so they are not shipped
DEFAULT_CLASS_THRESHOLDS: dict[str, float] = {}
#: release ratio: an event goes on while its windows reach this x its threshold; 0.5 (was 0.6)
#: keeps a kettle at 0-2 dB whose confidence wanders 0.3-0.7 one event that lasts its hold (one
#: more emergency found in the scripted day, nothing else changed, `--release-ratios`)
DEFAULT_RELEASE_RATIO = 0.5
#: hold per urgency, s: an event of that urgency is confirmed (and an emergency notified) only
#: once it has lasted this long; 0 = none. Chosen with `benchmarks/bench_events.py --holds` on
#: a tuning stream (60 min of event-free home audio, seeds 9001+; 4 s is the shortest hold
#: with no false emergency notification there, 2.0/h without) and reported on another (120 min,
#: seeds 9501+: 0.0/h, 2.5/h without); held-out emergency recall 98.3 % with or without it,
#: emergency detection delay 0.64 -> 4.07 s (median); see the README's bench_events row.
DEFAULT_HOLD_S: dict[str, float] = {EMERGENCY: 4.0, SOCIAL: 0.0, AMBIENT: 0.0}
#: the single-window path per class: one window at or above this threshold confirms an event of
#: that class (besides the rules above). A knock sequence (2-5 knocks, 0.3-1.2 s) fits in one
#: 1 s window, so a knock that the hop does not split gives one confident window, not the two
#: the social short path needs: the scripted day found 72 % of its knocks without this, the
#: held-out event set 90 %. Chosen with `benchmarks/bench_events.py --single-window` on the
#: tuning stream (60 min, seeds 9001+, and its second hour 9013+) and the event set; see the
#: README's bench_events row. 0.999 for the issue 14 checkpoint; 0.995 since the retrain of
#: session 8 (its knocks' confident windows peak lower: tuning stream and event set, 0.999 ->
#: 0.995: event recall 93.1 -> 95.6 %, the day's 93.3 -> 96.2 %, false social 0.0/h both; 0.99
#: gave 3.0/h). Checked on the report stream (seeds 9501+) and a fresh event set (seed 9800):
#: recall 93.1 -> 94.4 %, the day's 93.3 -> 96.2 %, false social 2.5 -> 3.0/h.
DEFAULT_SINGLE_WINDOW: dict[str, float] = {"door_knock": 0.995}
#: same-class detections this close (s, end to start) are one event; chosen with
#: `benchmarks/bench_events.py --merge-gaps` (see the README)
DEFAULT_MERGE_GAP_S = 4.0


class PolicyError(ValueError):
    """A policy that cannot work; the message names the field and the accepted values."""


@dataclass(frozen=True)
class ClassRule:
    urgency: str
    threshold: float
    k: int
    n: int
    short_threshold: float = 0.0  # 0: no short-sound path
    short_k: int = 1
    short_n: int = 1
    hold_s: float = 0.0  # minimum duration before the event is confirmed; 0: none
    single_threshold: float = 0.0  # one window at or above this confirms too; 0: none

    @property
    def short(self) -> bool:
        return self.short_threshold > 0.0

    @property
    def depth(self) -> int:
        """Windows of history the rule looks at."""
        return max(self.n, self.short_n) if self.short else self.n

    def _check_higher_level(self, label: str, name: str, value) -> None:
        """A path's own threshold: 0 (no such path) or at least the rule's threshold, <= 1."""
        if not (isinstance(value, (int, float)) and math.isfinite(value)
                and (value == 0.0 or self.threshold <= value <= 1.0)):
            raise PolicyError(f"{label}: {name} {value!r} must be 0 (none) or in "
                              f"[threshold {self.threshold}, 1]")

    def validate(self, label: str) -> ClassRule:
        if self.urgency not in URGENCIES:
            raise PolicyError(f"{label}: urgency {self.urgency!r} is not one of "
                              f"{', '.join(URGENCIES)}")
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)
                and 0.0 < self.threshold <= 1.0):
            raise PolicyError(f"{label}: threshold {self.threshold!r} outside (0, 1]")
        if not (isinstance(self.k, int) and isinstance(self.n, int) and 1 <= self.k <= self.n
                <= 20):
            raise PolicyError(f"{label}: k-of-n {self.k}-of-{self.n} needs 1 <= k <= n <= 20")
        self._check_higher_level(label, "short-sound threshold", self.short_threshold)
        if self.short and not (isinstance(self.short_k, int) and isinstance(self.short_n, int)
                               and 1 <= self.short_k <= self.short_n <= 20):
            raise PolicyError(f"{label}: short-sound k-of-n {self.short_k}-of-{self.short_n} "
                              "needs 1 <= k <= n <= 20")
        self._check_higher_level(label, "single-window threshold", self.single_threshold)
        if not (isinstance(self.hold_s, (int, float)) and math.isfinite(self.hold_s)
                and 0.0 <= self.hold_s <= 60.0):
            raise PolicyError(f"{label}: hold {self.hold_s!r} s outside 0-60 s")
        return self


@dataclass(frozen=True)
class EventPolicy:
    classes: tuple[str, ...]
    rules: dict[str, ClassRule]
    background: str = "background"
    window_s: float = 1.0
    hop_s: float = 0.5
    release_ratio: float = DEFAULT_RELEASE_RATIO
    off_windows: int = 2
    notify_cooldown_s: float = 30.0
    merge_gap_s: float = 0.0  # default_policy: DEFAULT_MERGE_GAP_S
    extra: dict = field(default_factory=dict)

    def validate(self) -> EventPolicy:
        if not 0.0 < self.hop_s <= self.window_s:
            raise PolicyError(f"hop_s {self.hop_s} must be in (0, window_s={self.window_s}]")
        if not 0.0 < self.release_ratio <= 1.0:
            raise PolicyError(f"release_ratio {self.release_ratio} outside (0, 1]")
        if not (isinstance(self.off_windows, int) and 1 <= self.off_windows <= 20):
            raise PolicyError(f"off_windows {self.off_windows} outside 1-20")
        if not (math.isfinite(self.notify_cooldown_s) and self.notify_cooldown_s >= 0.0):
            raise PolicyError(f"notify_cooldown_s {self.notify_cooldown_s} must be >= 0")
        if not (isinstance(self.merge_gap_s, (int, float)) and math.isfinite(self.merge_gap_s)
                and 0.0 <= self.merge_gap_s <= 60.0):
            raise PolicyError(f"merge_gap_s {self.merge_gap_s!r} outside 0-60 s")
        for label, rule in self.rules.items():
            if label not in self.classes:
                raise PolicyError(f"rule for unknown class {label!r}; classes are "
                                  f"{', '.join(self.classes)}")
            rule.validate(label)
        return self

    def rule(self, label: str) -> ClassRule | None:
        """The class's rule; None for the background class (it never makes events)."""
        return None if label == self.background else self.rules.get(label)

    def urgency(self, label: str) -> str:
        rule = self.rule(label)
        return AMBIENT if rule is None else rule.urgency


def default_policy(classes, hop_s: float = 0.5, background: str = "background",
                   emergency: tuple[str, ...] | None = None,
                   thresholds: dict[str, float] | None = None,
                   urgency_rules: dict[str, tuple[float, int, int]] | None = None,
                   short_rules: dict[str, tuple[float, int, int]] | None = None,
                   holds: dict[str, float] | None = None,
                   single_window: dict[str, float] | None = None,
                   **kw) -> EventPolicy:
    """The default rules for ``classes``; ``emergency`` overrides which labels are emergencies
    (the inference node's emergency_classes), ``urgency_rules`` the (threshold, k, n) of an
    urgency level, ``short_rules`` its short-sound path (threshold 0: none), ``thresholds``
    single classes' thresholds (None: DEFAULT_CLASS_THRESHOLDS, {}: none), ``single_window``
    the classes with a single-window path ({label: threshold}; None: DEFAULT_SINGLE_WINDOW,
    {}: none)."""
    by_urgency = {**DEFAULT_RULES, **(urgency_rules or {})}
    short = {**DEFAULT_SHORT_RULES, **(short_rules or {})}
    hold = {**DEFAULT_HOLD_S, **(holds or {})}
    kw.setdefault("merge_gap_s", DEFAULT_MERGE_GAP_S)
    kw.setdefault("release_ratio", DEFAULT_RELEASE_RATIO)
    rules = {}
    for label in classes:
        if label == background:
            continue
        urgency = DEFAULT_URGENCY.get(label, AMBIENT)
        if emergency is not None:
            if label in emergency:
                urgency = EMERGENCY
            elif urgency == EMERGENCY:
                urgency = SOCIAL
        threshold, k, n = by_urgency[urgency]
        short_threshold, short_k, short_n = short[urgency]
        rules[label] = ClassRule(urgency, threshold, k, n, float(short_threshold), short_k,
                                 short_n, float(hold.get(urgency, 0.0)))
    for label, value in (DEFAULT_CLASS_THRESHOLDS if thresholds is None else thresholds).items():
        if label not in rules:
            if thresholds is None:  # a default for a class this model does not have
                continue
            raise PolicyError(f"threshold for unknown or background class {label!r}")
        rules[label] = replace(rules[label], threshold=float(value))
    single = DEFAULT_SINGLE_WINDOW if single_window is None else single_window
    for label, value in single.items():
        if label not in rules:
            if single_window is None:  # a default for a class this model does not have
                continue
            raise PolicyError(f"single-window threshold for unknown or background class "
                              f"{label!r}")
        rules[label] = replace(rules[label], single_threshold=float(value))
    return EventPolicy(tuple(classes), rules, background=background, hop_s=hop_s,
                       **kw).validate()


def _items(text: str, parameter: str, form: str, keys=None):
    """(key, value text) of each "key=value" item of a comma-separated parameter; PolicyError
    naming ``parameter``, the item and the expected ``form`` when one is malformed, or (with
    ``keys``) names a key that is not one of them."""
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise PolicyError(f"{parameter} item {item!r} is not {form}")
        if keys is not None and key not in keys:
            raise PolicyError(f"{parameter} item {item!r}: {key!r} is not one of "
                              f"{', '.join(keys)}")
        yield key, value, item


def parse_thresholds(text: str, parameter: str = "class_thresholds") -> dict[str, float]:
    """"label=0.7, other=0.8" (the inference node's class_thresholds) -> {label: 0.7, ...}."""
    out = {}
    for label, value, item in _items(text, parameter, "label=value"):
        try:
            out[label] = float(value)
        except ValueError:
            raise PolicyError(f"{parameter} item {item!r} is not label=value") from None
    return out


def format_short_rules(rules: dict[str, tuple[float, int, int]]) -> str:
    """{urgency: (threshold, k, n)} -> "emergency=0.995/1/1, social=0.99/2/2, ..."."""
    return ", ".join(f"{u}={t:g}/{k}/{n}" for u, (t, k, n) in rules.items())


def parse_short_rules(text: str) -> dict[str, tuple[float, int, int]]:
    """"emergency=0.995/1/1, social=0.99/2/2" (the inference node's event_short_rules) ->
    {urgency: (threshold, k, n)}; urgencies not named get no short path; "" = none at all."""
    out = {u: (0.0, 1, 1) for u in URGENCIES}
    form = "urgency=threshold/k/n"
    for urgency, value, item in _items(text, "event_short_rules", form, URGENCIES):
        try:
            thr, k, n = value.split("/")
            out[urgency] = (float(thr), int(k), int(n))
        except ValueError:
            raise PolicyError(f"event_short_rules item {item!r} is not {form}") from None
    return out


def format_thresholds(values: dict[str, float]) -> str:
    """{label: threshold} -> "doorbell=0.85, door_knock=0.85" (the inference node's
    class_thresholds and event_single_window; parse_thresholds reads it back)."""
    return ", ".join(f"{label}={t:g}" for label, t in values.items())


def format_holds(holds: dict[str, float]) -> str:
    """{urgency: seconds} -> "emergency=4, social=0, ambient=0"."""
    return ", ".join(f"{u}={s:g}" for u, s in holds.items())


def parse_holds(text: str) -> dict[str, float]:
    """"emergency=4" (the inference node's event_hold_s) -> {urgency: seconds}; urgencies not
    named get no hold; "" = none at all."""
    out = {u: 0.0 for u in URGENCIES}
    for urgency, value, item in _items(text, "event_hold_s", "urgency=seconds", URGENCIES):
        try:
            out[urgency] = float(value)
        except ValueError:
            raise PolicyError(f"event_hold_s item {item!r} is not urgency=seconds") from None
        if not (math.isfinite(out[urgency]) and 0.0 <= out[urgency] <= 60.0):
            raise PolicyError(f"event_hold_s item {item!r}: seconds outside 0-60")
    return out


def parameter_texts() -> dict[str, str]:
    """The shipped value, as text, of each of the inference node's text parameters of the
    policy (what `from_parameter_texts` reads)."""
    return {"class_thresholds": format_thresholds(DEFAULT_CLASS_THRESHOLDS),
            "event_short_rules": format_short_rules(DEFAULT_SHORT_RULES),
            "event_single_window": format_thresholds(DEFAULT_SINGLE_WINDOW),
            "event_hold_s": format_holds(DEFAULT_HOLD_S)}


def from_parameter_texts(classes, texts: dict[str, str], **kw) -> EventPolicy:
    """`default_policy` from the node's text parameters (`parameter_texts` keys; ``kw`` the
    rest). A per-class parameter left at its shipped text means the shipped per-class values,
    which apply only to the classes the model has (a user's own model may lack a knock); one
    the user set names classes the model must have."""
    shipped = parameter_texts()

    def per_class(name: str) -> dict[str, float] | None:
        text = texts[name]
        return None if text == shipped[name] else parse_thresholds(text, name)

    return default_policy(classes, thresholds=per_class("class_thresholds"),
                          short_rules=parse_short_rules(texts["event_short_rules"]),
                          holds=parse_holds(texts["event_hold_s"]),
                          single_window=per_class("event_single_window"), **kw)


def with_rules(policy: EventPolicy, threshold: dict[str, float] | None = None,
               k: int | None = None, n: int | None = None) -> EventPolicy:
    """A copy with some thresholds and/or every rule's k-of-n replaced (benchmark sweeps)."""
    rules = dict(policy.rules)
    for label, rule in rules.items():
        rules[label] = replace(rule, threshold=(threshold or {}).get(label, rule.threshold),
                               k=rule.k if k is None else k, n=rule.n if n is None else n)
    return replace(policy, rules=rules).validate()
