"""Run every fault and load scenario and print what was injected, what the graph did, what was lost.

    python benchmarks/fault_report.py [--only NAME] [--overload-seconds 60] [--json FILE]

Each scenario runs in its own private ROS domain with real node processes (the same code as
test/test_reliability.py), which are all stopped afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from adaspring_ros.testing import fault_scenarios as fs
from adaspring_ros.testing.ros_harness import RosTestEnv


def scenarios(overload_seconds: float):
    return [
        ("bad_audio", fs.bad_audio),
        ("bad_contexts", fs.bad_contexts),
        ("bad_configs", fs.bad_configs),
        ("bad_checkpoints", lambda ros: fs.bad_checkpoints(ros, ros.workdir)),
        ("monitor_dies", fs.monitor_dies),
        ("evolution_restarts", fs.evolution_restarts),
        ("inference_restarts", fs.inference_restarts),
        ("fallbacks", fs.fallbacks),
        ("audio_overload", lambda ros: fs.audio_overload(ros, overload_seconds)),
        ("context_burst", fs.context_burst),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--overload-seconds", type=float, default=60.0)
    p.add_argument("--json", default="runs/fault_report.json")
    args = p.parse_args(argv)
    results = []
    for name, run in scenarios(args.overload_seconds):
        if args.only and name not in args.only:
            continue
        env = RosTestEnv(Path(tempfile.mkdtemp(prefix=f"fault_{name}_")))
        t0 = time.monotonic()
        try:
            r = run(env)
        except Exception as exc:  # a scenario that crashes is a failed scenario, not a crash
            r = fs.ScenarioResult(name, "-", f"scenario raised {type(exc).__name__}: {exc}",
                                  "unknown", False)
        finally:
            problems = env.close()
        r.details.pop("output", None)
        results.append((r, time.monotonic() - t0, problems))
        mark = "PASS" if r.ok and not problems else "FAIL"
        print(f"\n[{mark}] {r.name}  ({time.monotonic() - t0:.0f} s)")
        for label, text in (("injected", r.injected), ("system did", r.observed),
                            ("lost", r.lost)):
            print(textwrap.fill(text, 100, initial_indent=f"  {label:>10}: ",
                                subsequent_indent=" " * 14))
        if problems:
            print("  teardown problems: " + "; ".join(problems))
    passed = sum(1 for r, _, pr in results if r.ok and not pr)
    print(f"\n{passed} passed, {len(results) - passed} failed")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(
        [dict(r.__dict__, seconds=round(s, 1), teardown=pr) for r, s, pr in results],
        indent=1, default=str))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
