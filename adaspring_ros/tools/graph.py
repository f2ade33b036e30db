"""The sound-assistant graph, described once for the launch file, bringup and the day runner.

One description means `ros2 launch adaspring_ros sound_assistant.launch.py` on the robot and
`bringup` where launch_ros is unavailable start the same nodes with the same parameters; the
test suite checks the launch file against this plan.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "adaspring_ros"
#: `python -m` entry of every node process (signals handled before the node's imports)
START_MODULE = "adaspring_ros.nodes.start"


@dataclass(frozen=True)
class NodeSpec:
    name: str  # node name (also the YAML key)
    executable: str  # installed in lib/adaspring_ros/ for ros2 run / launch_ros
    module: str  # the node class's module (its RUNTIME_PARAMETERS)


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

    def start_args(self) -> list[str]:
        """python's arguments that start this node (nodes/start.py: signals handled first)."""
        return ["-m", START_MODULE, self.spec.name, *self.ros_args()]

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


class PlanError(ValueError):
    """A combination of launch arguments that cannot work; the message says why and the fix."""


_NAME_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalise_namespace(namespace: str) -> str:
    """'/robot1' from 'robot1' or '/robot1/'; PlanError for a name ROS would refuse."""
    namespace = namespace.strip().strip("/")
    for token in namespace.split("/") if namespace else ():
        if not _NAME_TOKEN.match(token):
            raise PlanError(f"namespace {namespace!r}: {token!r} is not a valid ROS name token "
                            "(letters, digits and _, not starting with a digit)")
    return f"/{namespace}" if namespace else ""


def parse_flag(name: str, value) -> bool:
    """A launch argument's true/false; PlanError for anything else (a typo is not 'false')."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise PlanError(f"{name}:={value!r} is neither true nor false")


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


def plan(*, namespace: str = "", params_file: str | None = None, simulated_day: bool = False,
         simulated_audio: bool = False, scene_file: str = "") -> list[PlannedNode]:
    """Which nodes start, in which namespace, with which parameter file and overrides.

    Default (every flag false): the live assistant, microphone capture first, wall clock, the
    live battery chain. simulated_day: add the scene clock and run every node on its /clock
    (use_sim_time); it needs the scripted scene or a scene file, since live capture cannot be
    accelerated. simulated_audio: the microphone plays the scripted scene (in real time on the
    wall clock when simulated_day is false). scene_file: a recording or folder of recordings
    the microphone plays instead (it takes precedence over simulated_audio).
    Raises PlanError, with the reason, for a combination that cannot work.
    """
    ns = normalise_namespace(namespace)
    params = params_file or default_params_file()
    _check_inputs(params, scene_file, simulated_day, simulated_audio)
    common = {"use_sim_time": True} if simulated_day else {}
    planned = [PlannedNode(SCENE_CLOCK, ns, params, dict(common))] if simulated_day else []
    for spec in NODES:
        overrides = dict(common)
        if spec.name == "microphone":
            overrides.update(_microphone_overrides(simulated_day, simulated_audio, scene_file))
        planned.append(PlannedNode(spec, ns, params, overrides))
    return planned


def _microphone_overrides(simulated_day: bool, simulated_audio: bool, scene_file: str) -> dict:
    """Capture when live (never the script: fake alarms must not reach the user); played-back
    audio at the YAML's accelerated speed for the simulated day, at 1x on the wall clock."""
    if not (scene_file or simulated_audio):
        return {"source": "alsa"}
    overrides = {"source": "files", "audio_path": scene_file} if scene_file else {"source": "scene"}
    if not simulated_day:
        overrides["playback_speed"] = 1.0
    return overrides


def _check_inputs(params: str, scene_file: str, simulated_day: bool,
                  simulated_audio: bool) -> None:
    if not Path(params).is_file():
        raise PlanError(f"params_file {params!r} does not exist")
    if scene_file and not Path(scene_file).exists():
        raise PlanError(f"scene_file {scene_file!r} does not exist")
    if simulated_day and not (simulated_audio or scene_file):
        raise PlanError("simulated_day:=true accelerates scene time 150x, which live capture "
                        "cannot follow: add simulated_audio:=true or a scene_file, or drop "
                        "simulated_day")


def spawn(planned: PlannedNode, *, env=None, stdout=None, stderr=None,
          cwd: str | None = None) -> subprocess.Popen:
    """Start one planned node as its own process (python -m, so no install step is assumed).

    It runs from ``cwd`` (default: the system temp folder), never from a source checkout:
    `python -m` puts the working folder first on sys.path, and the source tree's adaspring_ros
    lacks the generated adaspring_ros.msg that the installed package has.
    """
    return subprocess.Popen(
        [sys.executable, *planned.start_args()],
        env=dict(os.environ if env is None else env), stdout=stdout, stderr=stderr,
        cwd=cwd or tempfile.gettempdir(), start_new_session=True,
    )
