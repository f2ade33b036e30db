#!/usr/bin/env bash
# README command 1: set up (idempotent, seconds when already built) and run the main job.
#
#   scripts/ubiear_day.sh [ubiear_day arguments...]     (distro: $ADASPRING_DISTRO, else kilted)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DISTRO="${ADASPRING_DISTRO:-kilted}"

"$ROOT/scripts/setup_env.sh" "$DISTRO"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh" "$DISTRO"
echo "== ubiear_day $*"
exec ubiear_day "$@"
