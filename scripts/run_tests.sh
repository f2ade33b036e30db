#!/usr/bin/env bash
# README command 2: set up (idempotent) and run every check: ruff + vermin, then the pytest suite
# through `colcon test` (the way ROS integrators run it), then `colcon test-result`.
#
#   scripts/run_tests.sh [kilted|jazzy]     (default: $ADASPRING_DISTRO, else kilted)
#
# Exits non-zero if anything failed. .ci/run calls exactly this command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DISTRO="${1:-${ADASPRING_DISTRO:-kilted}}"
BUILD="$ROOT/build-$DISTRO"
INSTALL="$ROOT/install-$DISTRO"
LOGS="$ROOT/log-$DISTRO"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
T0="$(now)"

"$ROOT/scripts/setup_env.sh" "$DISTRO"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh" "$DISTRO"
cd "$ROOT"
failed=0

T="$(now)"
echo "== lint: ruff (ruff.toml) and vermin (Python 3.10 floor)"
python scripts/lint.py || failed=1
echo "-- lint done in $(elapsed "$T")"

T="$(now)"
echo "== colcon test ($DISTRO): pytest suite, ruff, vermin"
rm -rf "$BUILD/adaspring_ros/test_results"
colcon --log-base "$LOGS" test \
  --paths "$BUILD/.source" \
  --build-base "$BUILD" \
  --install-base "$INSTALL" \
  --event-handlers console_direct+ \
  --return-code-on-test-failure \
  --ctest-args -V || failed=1
echo "-- colcon test done in $(elapsed "$T")"

echo "== colcon test-result"
colcon --log-base "$LOGS" test-result --test-result-base "$BUILD" --verbose || failed=1

# One closing line that counts every test case colcon recorded (pytest's and the linters').
SUMMARY="$(mktemp)"
python - "$BUILD/adaspring_ros/test_results" "$SUMMARY" << 'PY' || failed=1
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

passed = failed = skipped = 0
files = sorted(Path(sys.argv[1]).rglob("*.xml"))
for path in files:
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
print(f"-- results from {len(files)} file(s) in {sys.argv[1]}")
Path(sys.argv[2]).write_text(f"tests: {passed} passed, {failed} failed, {skipped} skipped\n")
sys.exit(1 if failed or not passed else 0)
PY

echo "== run_tests.sh ($DISTRO): $([ "$failed" = 0 ] && echo OK || echo FAILED) in $(elapsed "$T0")"
cat "$SUMMARY"
rm -f "$SUMMARY"
exit "$failed"
