"""Start-up: seconds from the start command to the first classified window (a SoundEvent).

    python benchmarks/bench_startup.py [--runs N]

Measures, in a private ROS domain, with the simulated day (the only audio this machine has):
  * `ros2 launch adaspring_ros sound_assistant.launch.py simulated_day:=true
    simulated_audio:=true` (one process per node; target 8 s on a quiet machine), where
    launch_ros is installed;
  * the composed `bringup --simulated-day --simulated-audio` (one process; target 5 s).
Prints each run and the load average beside it: start-up is CPU-bound, and on a shared machine
other jobs stretch it. What the nodes keep between runs (a checkpoint's profile, Δ', the
on-device latency table; core/user_cache) is reported first: the first start on a machine fills
it, so `--cold` empties a private cache folder before every run to measure that case too.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from adaspring_ros.testing import ros2_cli
from adaspring_ros.testing.ros_harness import RosTestEnv

DAY_LAUNCH = ["launch", "adaspring_ros", "sound_assistant.launch.py", "simulated_day:=true",
              "simulated_audio:=true"]
EXEC_ROS2 = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
             "os.execvp('ros2', ['ros2', *sys.argv[1:]])")
TIMEOUT_S = 180.0


def first_event_seconds(kind: str, workdir: Path) -> float:
    """Start one graph, return seconds until the first SoundEvent arrives; stop it."""
    from adaspring_ros.msg import SoundEvent

    env = RosTestEnv(workdir)
    try:
        events = env.subscribe(SoundEvent, "/bench/sound_windows", qos=100)
        env.spin_for(0.5)  # the subscription is discovered before the clock starts
        start = time.monotonic()
        if kind == "launch":
            child = env.spawn(code=EXEC_ROS2, name="ros2_launch",
                              args=[*DAY_LAUNCH, "namespace:=bench"])
        else:
            child = env.spawn(module="adaspring_ros.tools.bringup", name="bringup",
                              args=["--namespace", "bench", "--simulated-day",
                                    "--simulated-audio"])
        if not env.spin_until(lambda: events.messages, TIMEOUT_S):
            raise RuntimeError(f"no event within {TIMEOUT_S:g} s:\n{child.output()}")
        elapsed = time.monotonic() - start
        os.killpg(child.pgid, signal.SIGINT)
        child.wait(timeout=30)
        return elapsed
    finally:
        env.close()


def cache_state() -> str:
    from adaspring_ros.core.user_cache import cache_dir

    folder = cache_dir()
    kinds = {"profile": "profile_*.json", "Δ'": "elite_*.json", "latency table": "latency_*.json"}
    counts = ", ".join(f"{len(list(folder.glob(g)))} {k}" for k, g in kinds.items())
    return f"cache {folder}: {counts} entries"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true",
                        help="an empty cache folder for every run (a first start)")
    args = parser.parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if not args.cold:
        print(cache_state(), flush=True)
    kinds = [("launch", 8.0), ("bringup", 5.0)]
    if ros2_cli.missing():
        print(f"ros2 launch: not measured (missing {', '.join(ros2_cli.missing())}; "
              f"{ros2_cli.HOW_TO})")
        kinds = kinds[1:]
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        for kind, target in kinds:
            times = []
            for run in range(args.runs):
                if args.cold:  # the children inherit it (ros_harness copies the environment)
                    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(dir=tmp, prefix="cache")
                times.append(first_event_seconds(kind, Path(tmp) / f"{kind}{run}"))
                load = os.getloadavg()[0]
                print(f"{kind}: run {run + 1}: first classified window after "
                      f"{times[-1]:.1f} s (load average {load:.2f}"
                      f"{', empty cache' if args.cold else ''})", flush=True)
            print(f"{kind}: median {statistics.median(times):.1f} s over {len(times)} runs "
                  f"(target {target:g} s on a quiet machine)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
