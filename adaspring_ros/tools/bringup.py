"""Start the sound-assistant graph without launch_ros, from the same YAML as the launch file.

    bringup [--namespace NS] [--params-file FILE] [--live] [--scene-file PATH] [--processes]

Default: all nodes composed in ONE process on one single-threaded executor (what an integrator
does in their own process: instantiate the node classes with a namespace and parameter
overrides). ``--processes`` starts one process per node instead, as launch_ros would.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time

from adaspring_ros.tools import graph

NODE_CLASSES = {
    "scene_clock": ("adaspring_ros.nodes.scene_clock", "SceneClockNode"),
    "microphone": ("adaspring_ros.nodes.microphone", "MicrophoneNode"),
    "context_monitor": ("adaspring_ros.nodes.context_monitor", "ContextMonitorNode"),
    "evolution": ("adaspring_ros.nodes.evolution", "EvolutionNode"),
    "inference": ("adaspring_ros.nodes.inference", "InferenceNode"),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--namespace", default="", help="namespace for every node and topic")
    p.add_argument("--params-file", default=None,
                   help="parameter YAML (default: the installed config/sound_assistant.yaml)")
    p.add_argument("--live", action="store_true",
                   help="real time, real microphone first (default: the simulated day)")
    p.add_argument("--scene-file", default="", help="file or folder of recordings to play")
    p.add_argument("--processes", action="store_true", help="one process per node")
    p.add_argument("--duration", type=float, default=0.0,
                   help="stop after this many real seconds (0 = run until Ctrl-C)")
    return p.parse_args(argv)


def planned_nodes(args: argparse.Namespace):
    return graph.plan(namespace=args.namespace, params_file=args.params_file,
                      simulated_day=not args.live, simulated_audio=not args.live,
                      scene_file=args.scene_file)


def compose(planned, context=None):
    """Instantiate the planned node classes in this process (for integrators and tests)."""
    from rclpy.parameter import Parameter

    nodes = []
    for item in planned:
        module, cls = NODE_CLASSES[item.spec.name]
        node_cls = getattr(importlib.import_module(module), cls)
        overrides = [Parameter(k, value=v) for k, v in sorted(item.overrides.items())]
        nodes.append(node_cls(namespace=item.namespace or None, parameter_overrides=overrides,
                              context=context))
    return nodes


def run_composed(planned, duration: float) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from adaspring_ros.nodes.node_main import limit_blas_threads

    limit_blas_threads()
    # the YAML applies to every node of this process, as --params-file does for a launch
    rclpy.init(args=["bringup", "--ros-args", "--params-file", planned[0].params_file])
    nodes = compose(planned)
    executor = SingleThreadedExecutor()  # see node_main.run for why not multi-threaded
    for node in nodes:
        executor.add_node(node)
    deadline = time.monotonic() + duration if duration > 0 else None
    try:
        while rclpy.ok() and (deadline is None or time.monotonic() < deadline):
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def run_processes(planned, duration: float) -> int:
    procs = [graph.spawn(item) for item in planned]
    deadline = time.monotonic() + duration if duration > 0 else None
    try:
        while deadline is None or time.monotonic() < deadline:
            for item, proc in zip(planned, procs, strict=True):
                if proc.poll() is not None:
                    print(f"{item.spec.name} exited with {proc.returncode}", file=sys.stderr)
                    return proc.returncode or 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop(procs)
    return 0


def stop(procs, timeout: float = 10.0) -> None:
    """SIGINT every process (clean rclpy shutdown), then SIGKILL what is still running."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    end = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, end - time.monotonic()))
        except Exception:
            proc.kill()
            proc.wait()


def main(argv=None) -> int:
    args = parse_args(argv)
    planned = planned_nodes(args)
    if args.processes:
        return run_processes(planned, args.duration)
    return run_composed(planned, args.duration)


if __name__ == "__main__":
    sys.exit(main())
