"""Launch the adaspring_ros sound assistant (microphone, context monitor, evolution, inference).

    ros2 launch adaspring_ros sound_assistant.launch.py [namespace:=robot1]
        [params_file:=/path/to.yaml] [simulated_audio:=true|false] [simulated_day:=true|false]
        [scene_file:=/path/to/recordings]

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
    ("simulated_audio", "true",
     "true: the microphone plays the scripted UbiEar scene; false: ALSA capture first."),
    ("simulated_day", "true",
     "true: a scene clock drives the accelerated 09:00-17:00 day (use_sim_time); false: live."),
    ("scene_file", "",
     "A recording or a folder of recordings for the microphone to play (overrides the scene)."),
)


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _nodes(context):
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    planned = graph.plan(
        namespace=arg("namespace"),
        params_file=arg("params_file") or None,
        simulated_day=_flag(arg("simulated_day")),
        simulated_audio=_flag(arg("simulated_audio")),
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
