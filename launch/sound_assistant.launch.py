"""Launch the adaspring_ros sound assistant (microphone, context monitor, evolution, inference).

    ros2 launch adaspring_ros sound_assistant.launch.py [namespace:=robot1]
        [params_file:=/path/to.yaml] [simulated_audio:=true|false] [simulated_day:=true|false]
        [scene_file:=/path/to/recordings]

Bare, it is the live assistant: microphone capture, wall clock, the live battery chain. The
simulated 09:00-17:00 day is `simulated_day:=true simulated_audio:=true`. A combination that
cannot work (simulated_day with live capture, a missing file, a flag that is neither true nor
false, an invalid namespace) is refused with the reason before any node starts.

The node list and parameters come from adaspring_ros.tools.graph, the same plan `bringup` uses
where launch_ros is unavailable, so both start the same graph from the same YAML.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from adaspring_ros.tools import graph
from launch import LaunchDescription

ARGUMENTS = (
    ("namespace", "", "Namespace for every node and topic (e.g. robot1)."),
    ("params_file", "",
     "Parameter YAML; empty = the installed config/sound_assistant.yaml."),
    ("simulated_audio", "false",
     "true: the microphone plays the scripted UbiEar scene (real time unless simulated_day); "
     "false: live microphone capture."),
    ("simulated_day", "false",
     "true: a scene clock drives the accelerated 09:00-17:00 day (use_sim_time; needs "
     "simulated_audio:=true or scene_file); false: wall clock, live."),
    ("scene_file", "",
     "A recording or a folder of recordings for the microphone to play (overrides the scene)."),
)


def _nodes(context):
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    planned = graph.plan(  # PlanError: launch reports the reason and exits non-zero
        namespace=arg("namespace"),
        params_file=arg("params_file") or None,
        simulated_day=graph.parse_flag("simulated_day", arg("simulated_day")),
        simulated_audio=graph.parse_flag("simulated_audio", arg("simulated_audio")),
        scene_file=arg("scene_file"),
    )
    return [
        Node(
            package=graph.PACKAGE,
            executable=p.spec.executable,
            name=p.spec.name,
            namespace=p.namespace,
            parameters=[p.params_file, dict(p.overrides)],
            output="screen",
            emulate_tty=True,
        )
        for p in planned
    ]


def generate_launch_description():
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_nodes)])
