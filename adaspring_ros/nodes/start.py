"""The node executables: stop signals handled before the node's module is imported.

    python -m adaspring_ros.nodes.start NAME [--ros-args ...]     (NAME: a key of NODE_CLASSES)

`ros2 run`, launch_ros, `bringup --processes` and setup.py's console scripts all start a node
through this module, which imports nothing heavy (node_main needs only the standard library)
and remembers a stop signal from the start of its entry (nodes/early_stop.py): the node's module is
imported afterwards by `node_main.run_module`, with SIGINT/SIGTERM already handled, so a
signal that arrives while torch or rclpy is being imported (seconds on a busy robot) ends the
process with status 0 instead of a KeyboardInterrupt traceback or a bare SIGTERM death.
``python -m adaspring_ros.nodes.<node>`` still works, without that protection.
"""

from __future__ import annotations

import sys
from functools import partial

from adaspring_ros.nodes import early_stop

#: node name -> (module, class): what bringup composes and these entry points start
NODE_CLASSES = {
    "scene_clock": ("adaspring_ros.nodes.scene_clock", "SceneClockNode"),
    "microphone": ("adaspring_ros.nodes.microphone", "MicrophoneNode"),
    "context_monitor": ("adaspring_ros.nodes.context_monitor", "ContextMonitorNode"),
    "evolution": ("adaspring_ros.nodes.evolution", "EvolutionNode"),
    "inference": ("adaspring_ros.nodes.inference", "InferenceNode"),
}


def run_node(name: str, args=None) -> None:
    """Start node ``name``: the stop signals are remembered first, then node_main is imported.
    Only the executables call this; importing this module (bringup reads NODE_CLASSES, and so
    may an integrator's process) leaves the process's signal handlers alone."""
    early_stop.install()  # a signal during the imports below is replayed by node_main
    from adaspring_ros.nodes.node_main import run_module

    run_module(*NODE_CLASSES[name], args)


scene_clock = partial(run_node, "scene_clock")
microphone = partial(run_node, "microphone")
context_monitor = partial(run_node, "context_monitor")
evolution = partial(run_node, "evolution")
inference = partial(run_node, "inference")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    if len(argv) < 2 or argv[1] not in NODE_CLASSES:
        print(f"usage: python -m adaspring_ros.nodes.start {{{','.join(NODE_CLASSES)}}} "
              "[--ros-args ...]", file=sys.stderr)
        return 2
    name = argv.pop(1)
    run_node(name, argv)
    return 0  # not reached: run_module leaves through node_main.exit_now


if __name__ == "__main__":
    sys.exit(main())
