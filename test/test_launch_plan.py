"""The launch file and `bringup` start the same nodes with the same parameters.

launch_ros is not installable on these machines (see README), so the launch file is executed
against a minimal recording implementation of the four launch classes it uses
(DeclareLaunchArgument, LaunchConfiguration, OpaqueFunction, launch_ros Node): the real file,
its real argument handling and its real call to the graph plan, with Node() calls recorded
instead of started. On a robot with launch_ros, `ros2 launch` runs the same file for real.
"""

import importlib.util
import sys
import types
from pathlib import Path

import pytest

from adaspring_ros.tools import bringup, graph

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "sound_assistant.launch.py"
SHIPPED_YAML = str(Path(__file__).resolve().parents[1] / "config" / "sound_assistant.yaml")


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


def _load_launch_file(monkeypatch):
    launch = types.ModuleType("launch")
    launch.LaunchDescription = lambda entities: list(entities)
    actions = types.ModuleType("launch.actions")
    actions.DeclareLaunchArgument = _Recorded
    actions.OpaqueFunction = _Recorded
    substitutions = types.ModuleType("launch.substitutions")
    substitutions.LaunchConfiguration = _LaunchConfiguration
    launch_ros = types.ModuleType("launch_ros")
    ros_actions = types.ModuleType("launch_ros.actions")
    ros_actions.Node = _Recorded
    for name, mod in {"launch": launch, "launch.actions": actions,
                      "launch.substitutions": substitutions, "launch_ros": launch_ros,
                      "launch_ros.actions": ros_actions}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    spec = importlib.util.spec_from_file_location("sound_assistant_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launched(monkeypatch, **overrides):
    module = _load_launch_file(monkeypatch)
    description = module.generate_launch_description()
    declared = {a.args[0]: a.kwargs for a in description if a.args and isinstance(a.args[0], str)}
    context = {name: kw["default_value"] for name, kw in declared.items()}
    context.update(overrides)
    opaque = [a for a in description if "function" in a.kwargs][0]
    return declared, [n.kwargs for n in opaque.kwargs["function"](context)]


def _as_plan(nodes):
    return [(n["executable"], n["name"], n["namespace"], n["parameters"][0],
             n["parameters"][1]) for n in nodes]


def _bringup_plan(argv):
    return [(p.spec.executable, p.spec.name, p.namespace, p.params_file, p.overrides)
            for p in bringup.planned_nodes(bringup.parse_args(argv))]


def test_every_launch_argument_is_documented(monkeypatch):
    declared, _ = _launched(monkeypatch)
    assert set(declared) == {"namespace", "params_file", "simulated_audio", "simulated_day",
                             "scene_file"}
    assert all(len(kw["description"]) > 20 for kw in declared.values())


@pytest.mark.parametrize("launch_args, bringup_argv", [
    ({}, []),
    ({"namespace": "robot1"}, ["--namespace", "robot1"]),
    ({"simulated_day": "true", "simulated_audio": "true"},
     ["--simulated-day", "--simulated-audio"]),
    ({"simulated_audio": "true"}, ["--simulated-audio"]),
    ({"params_file": SHIPPED_YAML, "scene_file": str(LAUNCH_FILE)},
     ["--params-file", SHIPPED_YAML, "--scene-file", str(LAUNCH_FILE)]),
])
def test_launch_file_and_bringup_start_the_same_graph(monkeypatch, launch_args, bringup_argv):
    _, nodes = _launched(monkeypatch, **launch_args)
    assert _as_plan(nodes) == _bringup_plan(bringup_argv)
    names = {n["name"] for n in nodes}
    assert {"microphone", "context_monitor", "evolution", "inference"} <= names


def test_default_parameter_file_is_the_shipped_yaml():
    path = Path(graph.default_params_file())
    assert path.name == "sound_assistant.yaml" and path.is_file()


def test_yaml_documents_every_declared_parameter():
    """Each parameter the nodes declare appears in config/sound_assistant.yaml with a comment."""
    import re

    text = (Path(__file__).resolve().parents[1] / "config" / "sound_assistant.yaml").read_text()
    node_src = Path(graph.__file__).parents[1] / "nodes"
    declared = set()
    for f in ("microphone", "context_monitor", "evolution", "inference", "scene_clock",
              "measured_latency"):
        declared |= set(re.findall(r'declare\(\s*(?:self|node),\s*"([a-z0-9_]+)"',
                                   (node_src / f"{f}.py").read_text()))
    assert len(declared) > 30
    for name in declared:
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(name + ":")), None)
        assert line is not None, f"{name} missing from the YAML"
        assert "#" in line, f"{name} has no comment in the YAML"


@pytest.mark.parametrize("launch_args, reason", [
    ({"simulated_day": "true"}, "live capture cannot follow"),
    ({"simulated_audio": "ture"}, "neither true nor false"),
    ({"namespace": "robot 1"}, "not a valid ROS name"),
    ({"namespace": "1robot"}, "not a valid ROS name"),
    ({"params_file": "/nonexistent.yaml"}, "does not exist"),
    ({"scene_file": "/nonexistent/recordings"}, "does not exist"),
])
def test_combinations_that_cannot_work_are_refused_with_the_reason(monkeypatch, launch_args,
                                                                    reason):
    with pytest.raises(graph.PlanError, match=reason):
        _launched(monkeypatch, **launch_args)


def test_bare_launch_is_the_live_assistant(monkeypatch):
    _, nodes = _launched(monkeypatch)
    names = [n["name"] for n in nodes]
    assert "scene_clock" not in names  # wall clock
    assert all("use_sim_time" not in n["parameters"][1] for n in nodes)
    mic = next(n for n in nodes if n["name"] == "microphone")
    assert mic["parameters"][1] == {"source": "alsa"}  # capture, never the script


def test_scripted_scene_on_the_wall_clock_plays_in_real_time(monkeypatch):
    _, nodes = _launched(monkeypatch, simulated_audio="true")
    mic = next(n for n in nodes if n["name"] == "microphone")
    assert mic["parameters"][1] == {"source": "scene", "playback_speed": 1.0}
    _, nodes = _launched(monkeypatch, simulated_audio="true", simulated_day="true")
    mic = next(n for n in nodes if n["name"] == "microphone")
    assert mic["parameters"][1] == {"source": "scene", "use_sim_time": True}


def test_bringup_refuses_with_the_reason_and_status_2(capsys):
    assert bringup.main(["--simulated-day"]) == 2
    assert "live capture cannot follow" in capsys.readouterr().err
