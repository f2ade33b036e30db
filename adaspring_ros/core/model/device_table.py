"""A latency table for the machine the node runs on: measured quickly, cached per machine.

The shipped table was timed on the machine that trained the checkpoint; on another CPU the same
configurations rank differently (measured: Spearman 0.49 against a second x86 machine's CPU),
so a robot planning with it adapts to another machine's latencies. When the profile's machine
(CPU model, core count, torch version, torch threads) is not this one, the evolution node times
a quick table itself with the offline estimator (`latency_table`, fewer rounds, fewer fitted
whole networks, one core, at most ``budget_s``), while the backbone already serves, and caches
it under ``$XDG_CACHE_HOME/adaspring_ros/`` (default ``~/.cache``), one file per
(checkpoint, machine). A cached table that is missing, unreadable or does not fit the
checkpoint's tables is measured again, with the reason logged once.
`python -m adaspring_ros.training.reprofile` remains the way to a full table.

Each entry is the 10th percentile of its calls, not their median (`QUICK_QUANTILE`). Why: on a
shared machine the speed swings 15-40 % within seconds, so a median is a mixture of fast and
slow stretches that differs module by module. Session 13, same machine, same code otherwise,
the 50 check configurations timed in the table's own rounds: median tables 33 and 35 of 50
within 15 %, Spearman 0.58 and 0.63; 10th-percentile tables 49 and 50 of 50, Spearman 0.92 and
0.94. Python's timeit takes the minimum for the same reason; a low percentile keeps that without
trusting one lucky call. The level this leaves out (slow stretches, preemption) is what the
evolution node's online correction measures (`latency_feedback`), so nothing is lost there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import time
from pathlib import Path

from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.user_cache import cache_dir, read_json, write_json

CACHE_FORMAT = 2  # 2: entries are 10th percentiles (format 1: medians, measured again)
QUICK_BUDGET_S = 60.0
QUICK_REPEATS = 12
QUICK_ROUNDS = 10
QUICK_FIT_CONFIGS = 150
QUICK_QUANTILE = 10.0  # percent of each entry's calls; see the module docstring


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (x86 'model name', Arm 'Hardware'/'Model')."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for key in ("model name", "Hardware", "Model", "CPU part"):
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine()


def machine_fingerprint(threads: int) -> dict:
    """What makes a latency table valid: CPU model, core count, torch version, torch threads."""
    return {"cpu_model": cpu_model(), "cores": os.cpu_count() or 1,
            "torch": torch_version(), "threads": int(threads)}


def torch_version() -> str:
    """torch.__version__ without importing torch when its distribution says it (2.5-3 s of the
    evolution node's start-up on 2 cores, for a string the profile's fingerprint compares)."""
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:  # a torch not installed as a distribution
        import torch

        return str(torch.__version__)


def profile_machine(profile: Profile) -> dict | None:
    """The fingerprint the profile's table was measured on, or None when it was not recorded."""
    machine = profile.meta.get("machine")
    return dict(machine) if isinstance(machine, dict) else None


def cache_path(checkpoint_version: str, machine: dict, folder: Path | None = None) -> Path:
    key = json.dumps([checkpoint_version, machine], sort_keys=True).encode()
    return (folder or cache_dir()) / f"latency_{hashlib.sha1(key).hexdigest()[:16]}.json"


def with_table(profile: Profile, table: dict, stem_ms: float, head_ms: dict,
               meta: dict) -> Profile:
    """A copy of ``profile`` predicting with another latency table (accuracy tables unchanged)."""
    return dataclasses.replace(profile, latency_ms=table, stem_latency_ms=stem_ms,
                               head_latency_ms=head_ms, meta={**profile.meta, **meta})


def _check_shape(profile: Profile, table: dict, stem: float, head: dict) -> None:
    """Raise ValueError unless the table has exactly the profile's entries, all finite > 0."""
    if {k: {c: set(o) for c, o in v.items()} for k, v in table.items()} != \
            {k: {c: set(o) for c, o in v.items()} for k, v in profile.latency_ms.items()}:
        raise ValueError("its entries do not match this checkpoint's latency table")
    if set(head) != set(profile.head_latency_ms):
        raise ValueError("its head entries do not match this checkpoint's")
    values = [stem, *head.values()] + [x for v in table.values() for o in v.values()
                                       for x in o.values()]
    if not all(isinstance(x, float) and math.isfinite(x) and x > 0 for x in values):
        raise ValueError("it holds a latency that is not a finite positive number")


def load_cached(path: Path, profile: Profile, machine: dict) -> Profile:
    """The cached table for (profile's checkpoint, machine), or ValueError/OSError saying why."""
    d = read_json(path)
    if d.get("format") != CACHE_FORMAT:
        raise ValueError(f"cache format {d.get('format')!r} is not {CACHE_FORMAT}")
    if d.get("checkpoint_version") != profile.checkpoint_version or d.get("machine") != machine:
        raise ValueError("it was measured for another checkpoint or machine")
    table = {int(k): {int(c): {o: float(x) for o, x in ops.items()} for c, ops in v.items()}
             for k, v in d["latency_ms"].items()}
    head = {int(k): float(v) for k, v in d["head_latency_ms"].items()}
    stem = float(d["stem_latency_ms"])
    _check_shape(profile, table, stem, head)
    return with_table(profile, table, stem, head, {"machine": machine, "latency_source":
                                                   f"cache {path}", **d.get("info", {})})


def save_cached(path: Path, profile: Profile, machine: dict, info: dict) -> bool:
    """Write atomically (core/user_cache: never half a table; False when it cannot be written,
    which only costs the next start a quick measurement)."""
    d = profile.to_dict()
    data = {"format": CACHE_FORMAT, "checkpoint_version": profile.checkpoint_version,
            "machine": machine, "latency_ms": d["latency_ms"],
            "stem_latency_ms": d["stem_latency_ms"], "head_latency_ms": d["head_latency_ms"],
            "info": info}
    return write_json(path, data)


def pin_to_one_core() -> int | None:
    """Pin the calling thread to one core (the last allowed: core 0 takes most interrupts)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # pid 0 = the calling thread on Linux
    return core


def measure_quick(net, profile: Profile, machine: dict, budget_s: float = QUICK_BUDGET_S,
                  rounds: int = QUICK_ROUNDS, repeats: int = QUICK_REPEATS,
                  fit_configs: int = QUICK_FIT_CONFIGS,
                  quantile: float = QUICK_QUANTILE) -> tuple[Profile, dict]:
    """Time a quick table on this machine (one core, at most about ``budget_s``)."""
    start = time.perf_counter()
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    core = pin_to_one_core()
    load = os.getloadavg()[0]
    try:
        # the module set costs about a second to build; the deadline leaves room for the fit
        from adaspring_ros.core.model import latency_table  # torch: only when measuring

        table, stem, head, fit = latency_table.measure_latency_tables(
            net, repeats, rounds, fit_configs=fit_configs, threads=machine["threads"],
            deadline=start + 0.85 * budget_s, quantile=quantile)
    finally:
        if saved is not None:
            os.sched_setaffinity(0, saved)
    info = {"latency_source": "quick on-device table", "latency_fit": fit, "core": core,
            "latency_quantile": quantile,
            "quick_seconds": round(time.perf_counter() - start, 1),
            "latency_loadavg_1min": [load, os.getloadavg()[0]]}
    return with_table(profile, table, stem, head, {"machine": machine, **info}), info


def table_for_machine(profile: Profile, machine: dict, load_net, log=print,
                      folder: Path | None = None, **quick) -> tuple[Profile, str]:
    """(profile to plan with, where its latency table came from: profile / cache / measured).

    ``load_net`` is called only when a table must be measured (loading the weights costs);
    ``quick``: `measure_quick`'s budget and estimator settings.
    """
    if profile_machine(profile) == machine:
        return profile, "profile"
    path = cache_path(profile.checkpoint_version, machine, folder)
    try:
        return load_cached(path, profile, machine), "cache"
    except FileNotFoundError:
        log(f"no cached latency table for this machine ({path}); measuring a quick one")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log(f"cached latency table {path} unusable ({exc}); measuring a quick one")
    measured, info = measure_quick(load_net(), profile, machine, **quick)
    save_cached(path, measured, machine, info)
    return measured, "measured"
