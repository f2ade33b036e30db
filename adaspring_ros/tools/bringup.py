"""Start the sound-assistant graph without launch_ros, from the same YAML as the launch file.

    bringup [--namespace NS] [--params-file FILE] [--simulated-day] [--simulated-audio]
            [--scene-file PATH] [--processes]

Defaults as the launch file's: the live assistant (microphone capture, wall clock, live
battery); `--simulated-day --simulated-audio` is the accelerated scripted day.
All nodes are composed in ONE process by default on one single-threaded executor (what an integrator
does in their own process: instantiate the node classes with a namespace and parameter
overrides). ``--processes`` starts one process per node instead, as launch_ros would.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import subprocess
import sys
import time

from adaspring_ros.tools import graph

from adaspring_ros.nodes.start import NODE_CLASSES


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--namespace", default="", help="namespace for every node and topic")
    p.add_argument("--params-file", default=None,
                   help="parameter YAML (default: the installed config/sound_assistant.yaml)")
    p.add_argument("--simulated-day", action="store_true",
                   help="a scene clock drives the accelerated 09:00-17:00 day (needs "
                        "--simulated-audio or --scene-file)")
    p.add_argument("--simulated-audio", action="store_true",
                   help="the microphone plays the scripted UbiEar scene (default: capture)")
    p.add_argument("--scene-file", default="", help="file or folder of recordings to play")
    p.add_argument("--processes", action="store_true", help="one process per node")
    p.add_argument("--duration", type=float, default=0.0,
                   help="stop after this many real seconds (0 = run until Ctrl-C)")
    return p.parse_args(argv)


def planned_nodes(args: argparse.Namespace):
    return graph.plan(namespace=args.namespace, params_file=args.params_file,
                      simulated_day=args.simulated_day, simulated_audio=args.simulated_audio,
                      scene_file=args.scene_file)


def compose(planned, context=None, stopped=lambda: False):
    """Instantiate the planned node classes in this process (for integrators and tests);
    none after ``stopped()`` turns true (a stop signal while the graph is being built)."""
    from rclpy.parameter import Parameter

    nodes = []
    for item in planned:
        if stopped():
            break
        module, cls = NODE_CLASSES[item.spec.name]
        node_cls = getattr(importlib.import_module(module), cls)
        overrides = [Parameter(k, value=v) for k, v in sorted(item.overrides.items())]
        nodes.append(node_cls(namespace=item.namespace or None, parameter_overrides=overrides,
                              context=context))
    return nodes


def run_composed(planned, duration: float, stop=None) -> int:
    """All nodes on one executor; SIGINT/SIGTERM end it cleanly (node_main's handling), also
    while the nodes are being imported and built (``stop``: installed before the imports)."""
    from adaspring_ros.nodes import node_main
    from adaspring_ros.nodes.scheduling import freeze_startup_objects

    stop = stop or node_main.StopRequest().install()
    from rclpy.executors import SingleThreadedExecutor

    node_main.limit_blas_threads()
    # the YAML applies to every node of this process, as --params-file does for a launch
    node_main.init_rclpy(["bringup", "--ros-args", "--params-file", planned[0].params_file],
                         stop=stop)
    nodes = []
    executor = SingleThreadedExecutor()  # see node_main.run for why not multi-threaded
    try:
        nodes = compose(planned, stopped=stop.is_set)
        freeze_startup_objects()
        for node in nodes:
            executor.add_node(node)
        node_main.spin_until_stopped(executor, stop, duration)
    finally:
        node_main.shut_down(nodes, executor)
    return 0


def run_processes(planned, duration: float, request) -> int:
    """One process per node; SIGINT/SIGTERM to bringup stop every child, none is left behind.

    The children run in their own sessions (a terminal's Ctrl-C reaches bringup only), so
    bringup forwards the stop itself, waits, and kills whatever is still running.
    """
    procs = []
    try:
        procs = [graph.spawn(item) for item in planned]
        code = _watch(planned, procs, request, duration)
    finally:
        codes = stop(procs)
    # strict=False: fewer processes than planned when a spawn itself failed
    unclean = [f"{item.spec.name} exited with {c}"
               for item, c in zip(planned, codes, strict=False) if c]
    if unclean and code == 0:
        print("bringup: " + "; ".join(unclean), file=sys.stderr)
        code = 1
    return code


def _watch(planned, procs, request, duration: float) -> int:
    deadline = time.monotonic() + duration if duration > 0 else None
    while not request.is_set() and (deadline is None or time.monotonic() < deadline):
        for item, proc in zip(planned, procs, strict=True):
            if proc.poll() is not None:
                print(f"{item.spec.name} exited with {proc.returncode}", file=sys.stderr)
                return proc.returncode or 1
        request.event.wait(0.2)
    return 0


def stop(procs, timeout: float = 4.0) -> list[int]:
    """SIGINT every process (clean rclpy shutdown), then SIGKILL what is still running.

    Returns each process's exit status (negative: killed by that signal).
    """
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    end = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return [proc.returncode for proc in procs]


def main(argv=None) -> int:
    from adaspring_ros.nodes.node_main import StopRequest, exit_now

    request = StopRequest().install()  # first: a signal during the imports exits 0 quietly
    args = parse_args(argv)
    try:
        planned = planned_nodes(args)
    except graph.PlanError as exc:
        print(f"bringup: {exc}", file=sys.stderr)
        return 2
    if args.processes:
        return run_processes(planned, args.duration, request)
    exit_now(run_composed(planned, args.duration, request))
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
