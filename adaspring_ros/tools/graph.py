"""The sound-assistant graph, described once for the launch file, bringup and the day runner.

One description means `ros2 launch adaspring_ros sound_assistant.launch.py` on the robot and
`bringup` where launch_ros is unavailable start the same nodes with the same parameters; the
test suite checks the launch file against this plan.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "adaspring_ros"


@dataclass(frozen=True)
class NodeSpec:
    name: str  # node name (also the YAML key)
    executable: str  # installed in lib/adaspring_ros/ for ros2 run / launch_ros
    module: str  # python -m entry point (same main())


NODES = (
    NodeSpec("microphone", "microphone_node", "adaspring_ros.nodes.microphone"),
    NodeSpec("context_monitor", "context_monitor_node", "adaspring_ros.nodes.context_monitor"),
    NodeSpec("evolution", "evolution_node", "adaspring_ros.nodes.evolution"),
    NodeSpec("inference", "inference_node", "adaspring_ros.nodes.inference"),
)
SCENE_CLOCK = NodeSpec("scene_clock", "scene_clock", "adaspring_ros.nodes.scene_clock")


@dataclass(frozen=True)
class PlannedNode:
    spec: NodeSpec
    namespace: str
    params_file: str
    overrides: dict = field(default_factory=dict)

    def ros_args(self) -> list[str]:
        args = ["--ros-args", "-r", f"__node:={self.spec.name}", "--params-file", self.params_file]
        if self.namespace:
            args += ["-r", f"__ns:={self.namespace}"]
        for key, value in sorted(self.overrides.items()):
            args += ["-p", f"{key}:={_yaml_scalar(value)}"]
        return args


def _yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalise_namespace(namespace: str) -> str:
    namespace = namespace.strip().strip("/")
    return f"/{namespace}" if namespace else ""


def default_params_file() -> str:
    """config/sound_assistant.yaml from the install (share/) or, in a source tree, the repo."""
    try:
        from ament_index_python.packages import get_package_share_directory

        installed = Path(get_package_share_directory(PACKAGE)) / "config" / "sound_assistant.yaml"
        if installed.is_file():
            return str(installed)
    except Exception:  # not installed with colcon (pip install, source tree)
        pass
    return str(Path(__file__).resolve().parents[2] / "config" / "sound_assistant.yaml")


def plan(*, namespace: str = "", params_file: str | None = None, simulated_day: bool = True,
         simulated_audio: bool = True, scene_file: str = "") -> list[PlannedNode]:
    """Which nodes start, in which namespace, with which parameter file and overrides.

    simulated_day: add the scene clock and run every node on its /clock (use_sim_time).
    simulated_audio: the microphone plays the scripted scene instead of trying ALSA first.
    scene_file: a file or folder of recordings for the microphone to play instead.
    """
    ns = normalise_namespace(namespace)
    params = params_file or default_params_file()
    common = {"use_sim_time": True} if simulated_day else {}
    planned = [PlannedNode(SCENE_CLOCK, ns, params, dict(common))] if simulated_day else []
    for spec in NODES:
        overrides = dict(common)
        if spec.name == "microphone":
            if scene_file:
                overrides.update(source="files", audio_path=scene_file)
            elif simulated_audio:
                overrides["source"] = "scene"
        planned.append(PlannedNode(spec, ns, params, overrides))
    return planned


def spawn(planned: PlannedNode, *, env=None, stdout=None, stderr=None,
          cwd: str | None = None) -> subprocess.Popen:
    """Start one planned node as its own process (python -m, so no install step is assumed).

    It runs from ``cwd`` (default: the system temp folder), never from a source checkout:
    `python -m` puts the working folder first on sys.path, and the source tree's adaspring_ros
    lacks the generated adaspring_ros.msg that the installed package has.
    """
    return subprocess.Popen(
        [sys.executable, "-m", planned.spec.module, *planned.ros_args()],
        env=dict(os.environ if env is None else env), stdout=stdout, stderr=stderr,
        cwd=cwd or tempfile.gettempdir(), start_new_session=True,
    )
