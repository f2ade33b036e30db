#!/usr/bin/env bash
# Build the project's own ROS 2 environment from nothing, then build the package with colcon.
#
#   scripts/setup_env.sh [kilted|jazzy]      (default: $ADASPRING_DISTRO, else kilted)
#   ADASPRING_ROS2_SOURCES=<folder> scripts/setup_env.sh    (optional, see step 4)
#
# 0. espeak-ng (speech for the training data), with apt-get when it is missing (root or
#    password-less sudo; otherwise it stops and says what to install);
# 1. a virtual environment .venv-<distro> in the repository with: torch==2.13.0 first (the CPU
#    build; an unpinned torch would pull GBs of CUDA packages), ROS 2 <distro> rclpy with Fast DDS
#    and the message packages from the PyPI wheels, the rosidl/ament/colcon build tools, and the
#    project's Python dependencies (the same list as setup.py, plus the linters);
# 2. one repair of the wheels' exported CMake files (they name the wheel builder's Python paths);
# 3. `colcon build` of this package into build-<distro>/ and install-<distro>/ (logs in
#    log-<distro>/), so distros never clash;
# 4. only when ADASPRING_ROS2_SOURCES names a folder of launch/launch_ros/ros2cli sources (such as
#    ../shared/vendor/ros2/rolling, which .ci/run passes): the PyPI wheels lack launch, launch_ros,
#    launch_testing, launch_pytest and ros2cli, so they are installed from those sources into the
#    venv (pip --no-deps: their requirements name ROS packages that are not on PyPI; plus
#    osrf-pycommon), and composition_interfaces, which launch_ros imports, is generated with
#    rosidl/colcon into install-<distro>/. Then `ros2 launch`, `ros2 param`, ... and the
#    launch/CLI tests work. A second stamp skips the pip part when the sources did not change.
# Idempotent: a stamp (hash of this script, which holds the requirement lists, and of the Python
# version) skips step 1-2 when nothing changed, and colcon builds incrementally, so a second run
# takes seconds. On a robot with ROS 2 from apt none of this is needed: use `colcon build`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DISTRO="${1:-${ADASPRING_DISTRO:-kilted}}"
case "$DISTRO" in
  kilted | jazzy) ;;
  *)
    echo "setup_env.sh: unsupported distro '$DISTRO' (kilted or jazzy)" >&2
    exit 2
    ;;
esac

VENV="$ROOT/.venv-$DISTRO"
BUILD="$ROOT/build-$DISTRO"
INSTALL="$ROOT/install-$DISTRO"
LOGS="$ROOT/log-$DISTRO"
PYTHON="${ADASPRING_PYTHON:-python3}"
STAMP="$VENV/.adaspring-setup-stamp"

TORCH_PIN="torch==2.13.0"

# ROS 2 from the PyPI wheels: rclpy + Fast DDS, the messages the nodes use, and what rosidl, ament
# and colcon need to generate msg/ (some of it is missing from the wheels' own metadata).
ROS_REQUIREMENTS=(
  "ros-$DISTRO-rclpy[fastrtps]"
  "ros-$DISTRO-std-msgs"
  "ros-$DISTRO-sensor-msgs"
  "ros-$DISTRO-diagnostic-msgs"
  "ros-$DISTRO-builtin-interfaces"
  "ros-$DISTRO-ament-index-python"
  "ros-$DISTRO-rosidl-default-generators"
  "ros-$DISTRO-rosidl-default-runtime"
  "ros-$DISTRO-rosidl-core-generators"
  "ros-$DISTRO-ament-cmake"
  "ros-$DISTRO-ament-cmake-python"
  "ros-$DISTRO-ament-cmake-pytest"
  "ros-$DISTRO-ament-cmake-include-directories"
  "ros-$DISTRO-ament-package"
  "catkin-pkg"
  "colcon-common-extensions"
)
# rosidl's Fast DDS type support finds ament_cmake_ros (jazzy) / ament_cmake_ros_core (kilted+);
# jazzy's ament_cmake_ros and rosidl_generator_py also need these, missing from the wheel metadata.
if [ "$DISTRO" = jazzy ]; then
  ROS_REQUIREMENTS+=(
    "ros-jazzy-ament-cmake-ros"
    "ros-jazzy-ament-cmake-gmock"
    "ros-jazzy-ament-cmake-gtest"
    "ros-jazzy-python-cmake-module"
  )
else
  ROS_REQUIREMENTS+=("ros-$DISTRO-ament-cmake-ros-core")
fi

# The project's Python dependencies: setup.py's install_requires + extras (robot, test).
PY_REQUIREMENTS=(
  numpy scipy librosa soundfile psutil tqdm matplotlib threadpoolctl
  jetson-stats sounddevice smbus2
  "pytest<8.4" hypothesis ruff vermin
)
# pytest < 8.4: launch_testing's pytest plugin (step 4) does not load under 8.4+ (hook signature
# changes), and once installed it is loaded by every pytest run in the venv. Pinned in both cases
# so the suite runs under the same pytest with or without the launch sources.


now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
quiet_pip() {
  # pip, minus this machine's warnings about absent local index folders
  "$VENV/bin/python" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}

T0="$(now)"
echo "== setup_env.sh: ROS 2 $DISTRO environment in $VENV"

# --- 0. system programs pip cannot install -------------------------------------------------------
# espeak-ng renders the speech in the training data (adaspring_ros/core/scene/speech_bank.py;
# the data-set tests need it). Installed with apt-get as root or with password-less sudo;
# otherwise the script stops and says what to install.
SYSTEM_PROGRAMS=(espeak-ng)
for prog in "${SYSTEM_PROGRAMS[@]}"; do
  command -v "$prog" > /dev/null && continue
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo > /dev/null && sudo -n true 2> /dev/null; then SUDO="sudo -n"; else SUDO="x"; fi
  fi
  if ! command -v apt-get > /dev/null || [ "$SUDO" = x ]; then
    echo "setup_env.sh: '$prog' is missing and cannot be installed from here: install it" \
      "(Debian/Ubuntu: apt-get install -y $prog; macOS: brew install $prog) and run again" >&2
    exit 1
  fi
  echo "-- apt-get install $prog"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q "$prog" > /dev/null ||
    { $SUDO apt-get update -q > /dev/null && $SUDO apt-get install -y -q "$prog" > /dev/null; }
  command -v "$prog" > /dev/null || { echo "setup_env.sh: installing $prog failed" >&2; exit 1; }
done

# --- 1-2. the virtual environment (skipped when the stamp matches) -----------------------------
if ! command -v "$PYTHON" > /dev/null; then
  echo "setup_env.sh: '$PYTHON' not found (set ADASPRING_PYTHON to a Python 3.11)" >&2
  exit 1
fi
PY_VERSION="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
WANT_STAMP="$( {
  cat "${BASH_SOURCE[0]}"
  echo "python $PY_VERSION $DISTRO"
} | sha256sum | cut -d' ' -f1)"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT_STAMP" ]; then
  echo "-- venv up to date (stamp matches), pip skipped"
else
  T="$(now)"
  rm -f "$STAMP"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "-- creating the venv with Python $PY_VERSION"
    "$PYTHON" -m venv "$VENV"
  fi
  touch "$VENV/COLCON_IGNORE" # never crawl the venv's share/*/package.xml as workspace packages
  echo "-- pip: $TORCH_PIN first (CPU build)"
  quiet_pip install -q "$TORCH_PIN"
  CONSTRAINTS="$VENV/adaspring-constraints.txt"
  echo "$TORCH_PIN" > "$CONSTRAINTS"
  echo "-- pip: ROS 2 $DISTRO wheels, build tools and project dependencies"
  quiet_pip install -q -c "$CONSTRAINTS" "${ROS_REQUIREMENTS[@]}" "${PY_REQUIREMENTS[@]}"
  "$VENV/bin/python" -c "import torch, sys; v = torch.__version__; \
sys.exit(0 if v.startswith('2.13.0') and '+cpu' in v else 'torch is ' + v)"
  echo "-- pip done in $(elapsed "$T")"

  # The wheels' exported CMake files name the wheel builder's interpreter paths
  # (/opt/python/cpXY-cpXY/include/... and .../site-packages); point them at this venv.
  "$VENV/bin/python" - "$VENV" << 'EOF'
import re
import sys
import sysconfig
from pathlib import Path

venv = Path(sys.argv[1])
include = sysconfig.get_paths()["include"]
site = sysconfig.get_paths()["purelib"]
pattern = re.compile(r"/opt/python/(cp3\d+)-\1/(include/python3\.\d+|lib/python3\.\d+/site-packages)")
fixed = 0
for path in (venv / "share").rglob("*.cmake"):
    text = path.read_text()
    if "/opt/python/" not in text:
        continue
    new = pattern.sub(lambda m: include if m.group(2).startswith("include") else site, text)
    if new != text:
        path.write_text(new)
        fixed += 1
left = [str(p) for p in (venv / "share").rglob("*.cmake") if "/opt/python/" in p.read_text()]
if left:
    sys.exit("unrepaired wheel paths remain in: " + ", ".join(left))
print(f"-- repaired the Python paths in {fixed} exported CMake file(s)")
EOF
  echo "$WANT_STAMP" > "$STAMP"
fi

# --- 3. colcon build (incremental) ------------------------------------------------------------
# colcon is given the package through a symlink, build-<distro>/.source -> the repository. Reason:
# rosidl exports its Python type-support target with numpy's include folder, and CMake refuses an
# exported include folder that lies inside the source tree, which the venv's numpy does when the
# source tree is the repository itself. Through the symlink the venv is outside CMake's source
# path, and nothing in CMakeLists.txt has to know about the venv (a robot builds it unchanged).
SOURCE_LINK="$BUILD/.source"
mkdir -p "$BUILD"
ln -sfn "$ROOT" "$SOURCE_LINK"
CACHE="$BUILD/adaspring_ros/CMakeCache.txt"
if [ -f "$CACHE" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$SOURCE_LINK" "$CACHE"; then
  echo "-- build folder was configured from another source path: reconfiguring"
  rm -rf "$BUILD/adaspring_ros"
fi
# colcon build of one source folder ($1) with BUILD_TESTING=$2, in a subshell that sees only
# this venv: nothing from a sourced /opt/ros or another workspace may leak into the build.
colcon_build() {
  (
    unset PYTHONPATH COLCON_PREFIX_PATH LD_LIBRARY_PATH
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
    cd "$ROOT"
    colcon --log-base "$LOGS" build --paths "$1" --build-base "$BUILD" \
      --install-base "$INSTALL" \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING="$2"
  )
}
T="$(now)"
echo "-- colcon build -> $INSTALL"
colcon_build "$SOURCE_LINK" ON
echo "-- colcon build done in $(elapsed "$T")"

# --- 4. launch_ros and ros2cli from source (optional) -----------------------------------------
ROS2_SOURCES="${ADASPRING_ROS2_SOURCES:-}"
ROS2_PYTHON_PACKAGES=(
  launch launch_xml launch_yaml launch_testing launch_pytest launch_ros launch_testing_ros
  ros2cli ros2launch ros2topic ros2param ros2node ros2service ros2pkg ros2run ros2interface
  rosidl_runtime_py
)
if [ -n "$ROS2_SOURCES" ]; then
  if [ ! -d "$ROS2_SOURCES/launch_ros" ] || [ ! -d "$ROS2_SOURCES/composition_interfaces" ]; then
    echo "setup_env.sh: ADASPRING_ROS2_SOURCES=$ROS2_SOURCES holds no launch_ros and" \
      "composition_interfaces sources (expected e.g. ../shared/vendor/ros2/rolling)" >&2
    exit 1
  fi
  ROS2_SOURCES="$(cd "$ROS2_SOURCES" && pwd)"
  T="$(now)"
  ROS2_STAMP="$VENV/.adaspring-ros2-sources-stamp"
  # the file list with sizes, minus build outputs a previous in-place install may have left there
  WANT_ROS2_STAMP="$( {
    echo "$WANT_STAMP"
    cd "$ROS2_SOURCES" && find . -type f -not -path '*/build/*' -not -path '*.egg-info/*' \
      -printf '%P %s\n' | sort
  } | sha256sum | cut -d' ' -f1)"
  if [ -f "$ROS2_STAMP" ] && [ "$(cat "$ROS2_STAMP")" = "$WANT_ROS2_STAMP" ]; then
    echo "-- launch/ros2cli from $ROS2_SOURCES up to date (stamp matches), pip skipped"
  else
    echo "-- pip: launch, launch_ros, launch_testing, ros2cli from $ROS2_SOURCES"
    # pip builds in the source folder: work on a private copy so the shared one stays untouched
    COPY="$(mktemp -d)"
    for pkg in "${ROS2_PYTHON_PACKAGES[@]}"; do
      cp -r "$ROS2_SOURCES/$pkg" "$COPY/$pkg"
      rm -rf "$COPY/$pkg/build" "$COPY/$pkg"/*.egg-info
    done
    quiet_pip install -q -c "$VENV/adaspring-constraints.txt" osrf-pycommon "pytest<8.4"
    (cd "$COPY" && quiet_pip install -q --no-deps --no-build-isolation \
      "${ROS2_PYTHON_PACKAGES[@]/#/./}")
    rm -rf "$COPY"
    "$VENV/bin/python" -c "import launch, launch_testing, launch_pytest, ros2cli, osrf_pycommon"
    echo "$WANT_ROS2_STAMP" > "$ROS2_STAMP"
  fi
  echo "-- colcon build composition_interfaces (rosidl) -> $INSTALL"
  colcon_build "$ROS2_SOURCES/composition_interfaces" OFF
  echo "-- launch/ros2cli ready in $(elapsed "$T")"
fi
echo "== setup_env.sh ($DISTRO) done in $(elapsed "$T0")"
