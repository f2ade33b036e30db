"""pip packaging of adaspring_ros, for a server WITHOUT ROS: `pip install .`

This installs the ROS-free core (adaspring_ros.core) and the offline training code, so the
self-evolutionary network can be trained and its profile measured on a GPU/CPU server. It does NOT
generate the ROS interfaces (adaspring_ros.msg): on a robot, colcon builds the package from
CMakeLists.txt (see README.md, "Two build paths").

The dependency lists below are mirrored in package.xml (as rosdep keys);
test/test_package_metadata.py fails when the two drift apart. Install torch==2.13.0 first on
machines where an unpinned torch would pull CUDA packages.
"""

import re
import shutil
import sys
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "adaspring_ros" / "__init__.py").read_text(), re.M
).group(1)

#: Runtime dependencies of the core and the training code.
INSTALL_REQUIRES = [
    "torch==2.13.0",
    "numpy",
    "scipy",
    "librosa",
    "soundfile",
    "psutil",
    "tqdm",
    "matplotlib",
    "threadpoolctl",
]

EXTRAS_REQUIRE = {
    # Used only on the robot, each import guarded: jtop on a Jetson, a real microphone, the
    # INA219 battery gauge on I2C.
    "robot": ["jetson-stats", "sounddevice", "smbus2"],
    # The test suite and its linters (ruff, vermin for the Python 3.10 floor).
    "test": ["pytest", "hypothesis", "ruff", "vermin"],
}

#: System programs pip cannot install (package.xml names them as rosdep keys, with apt rules in
#: scripts/rosdep.yaml; scripts/setup_env.sh installs them): espeak-ng renders the speech of the
#: training data (adaspring_ros/core/scene/speech_bank.py).
SYSTEM_REQUIRES = ["espeak-ng"]
if shutil.which("espeak-ng") is None:
    print("note: espeak-ng is not installed; generating training data needs it "
          "(apt-get install -y espeak-ng)", file=sys.stderr)

#: Same names as the wrappers CMakeLists.txt installs into lib/adaspring_ros/ for `ros2 run`.
CONSOLE_SCRIPTS = [
    "microphone_node=adaspring_ros.nodes.start:microphone",
    "context_monitor_node=adaspring_ros.nodes.start:context_monitor",
    "evolution_node=adaspring_ros.nodes.start:evolution",
    "inference_node=adaspring_ros.nodes.start:inference",
    "bringup=adaspring_ros.tools.bringup:main",
    "monitor=adaspring_ros.tools.monitor:main",
    "ubiear_day=adaspring_ros.tools.day_runner:main",
    "scene_clock=adaspring_ros.nodes.start:scene_clock",
]

setup(
    name="adaspring_ros",
    version=VERSION,
    description=(
        "AdaSpring: context-adaptive, retraining-free DNN compression for a ROS 2 sound "
        "assistant (UbiEar case study)"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(
        include=["adaspring_ros", "adaspring_ros.*"],
        exclude=["adaspring_ros.msg", "adaspring_ros.msg.*"],
    ),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
    zip_safe=False,
)
