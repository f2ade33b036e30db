# Put the project's built ROS 2 environment on this shell (source it, don't run it):
#
#   source scripts/env.sh [kilted|jazzy]     (default: $ADASPRING_DISTRO, else kilted)
#
# Afterwards `python -c "from adaspring_ros.msg import AudioChunk"` works, and the package's
# executables (ubiear_day, bringup, monitor, *_node) are on PATH. scripts/setup_env.sh must have
# run first. Only the project venv and install are used: ROS variables inherited from a sourced
# /opt/ros are reset, so nothing else on the machine leaks in.
# Exports ADASPRING_DISTRO, ADASPRING_VENV and ADASPRING_INSTALL (the tests check imports
# against them).

_adaspring_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ADASPRING_DISTRO="${1:-${ADASPRING_DISTRO:-kilted}}"
ADASPRING_VENV="$_adaspring_root/.venv-$ADASPRING_DISTRO"
ADASPRING_INSTALL="$_adaspring_root/install-$ADASPRING_DISTRO"
export ADASPRING_DISTRO ADASPRING_VENV ADASPRING_INSTALL

if [ ! -f "$ADASPRING_INSTALL/setup.bash" ] || [ ! -x "$ADASPRING_VENV/bin/python" ]; then
  echo "env.sh: no built $ADASPRING_DISTRO environment; run scripts/setup_env.sh $ADASPRING_DISTRO" >&2
  return 1 2> /dev/null || exit 1
fi

unset PYTHONPATH COLCON_PREFIX_PATH CMAKE_PREFIX_PATH ROS_PACKAGE_PATH PYTHONHOME
export VIRTUAL_ENV="$ADASPRING_VENV"
export PATH="$ADASPRING_VENV/bin:$PATH"
export AMENT_PREFIX_PATH="$ADASPRING_VENV"
# colcon's setup adds the install prefix to AMENT_PREFIX_PATH, PYTHONPATH, LD_LIBRARY_PATH, PATH.
_adaspring_nounset="$(set +o | grep nounset)"
set +u
# shellcheck disable=SC1091
COLCON_CURRENT_PREFIX="$ADASPRING_INSTALL" source "$ADASPRING_INSTALL/setup.bash"
eval "$_adaspring_nounset"
export PATH="$ADASPRING_INSTALL/adaspring_ros/lib/adaspring_ros:$PATH"
unset _adaspring_root _adaspring_nounset
