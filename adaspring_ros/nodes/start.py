"""The node executables: stop signals handled before the node's module is imported.

    python -m adaspring_ros.nodes.start NAME [--ros-args ...]     (NAME: a key of NODE_CLASSES)

`ros2 run`, launch_ros, `bringup --processes` and setup.py's console scripts all start a node
through this module, which imports nothing heavy (node_main needs only the standard library)
and remembers a stop signal from its first line (nodes/early_stop.py): the node's own module is
imported afterwards by `node_main.run_module`, with SIGINT/SIGTERM already handled, so a
signal that arrives while torch or rclpy is being imported (seconds on a busy robot) ends the
process with status 0 instead of a KeyboardInterrupt traceback or a bare SIGTERM death.
``python -m adaspring_ros.nodes.<node>`` still works, without that protection.
"""

from __future__ import annotations

from adaspring_ros.nodes import early_stop

early_stop.install()  # first: a signal during the imports below is replayed by node_main

import sys  # noqa: E402
from functools import partial  # noqa: E402

from adaspring_ros.nodes.node_main import run_module  # noqa: E402

#: node name -> (module, class): what bringup composes and these entry points start
NODE_CLASSES = {
    "scene_clock": ("adaspring_ros.nodes.scene_clock", "SceneClockNode"),
    "microphone": ("adaspring_ros.nodes.microphone", "MicrophoneNode"),
    "context_monitor": ("adaspring_ros.nodes.context_monitor", "ContextMonitorNode"),
    "evolution": ("adaspring_ros.nodes.evolution", "EvolutionNode"),
    "inference": ("adaspring_ros.nodes.inference", "InferenceNode"),
}

scene_clock = partial(run_module, *NODE_CLASSES["scene_clock"])
microphone = partial(run_module, *NODE_CLASSES["microphone"])
context_monitor = partial(run_module, *NODE_CLASSES["context_monitor"])
evolution = partial(run_module, *NODE_CLASSES["evolution"])
inference = partial(run_module, *NODE_CLASSES["inference"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    if len(argv) < 2 or argv[1] not in NODE_CLASSES:
        print(f"usage: python -m adaspring_ros.nodes.start {{{','.join(NODE_CLASSES)}}} "
              "[--ros-args ...]", file=sys.stderr)
        return 2
    name = argv.pop(1)
    run_module(*NODE_CLASSES[name], argv)
    return 0  # not reached: run_module leaves through node_main.exit_now


if __name__ == "__main__":
    sys.exit(main())
