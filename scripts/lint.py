#!/usr/bin/env python3
"""Run the project's linters on every Python file of the source tree.

    python scripts/lint.py            # ruff, then vermin
    python scripts/lint.py ruff       # only ruff (policy: ruff.toml at the repository root)
    python scripts/lint.py vermin     # only vermin: the code must run on Python 3.10

Used by scripts/run_tests.sh and registered as `colcon test` tests in CMakeLists.txt, so the
arguments live in one place. Exits non-zero when any linter reports a problem.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Top-level folders that hold generated files, environments or build outputs, never sources.
SKIP_PREFIXES = ("build", "install", "log", ".venv", "venv")

#: vermin: minimum target 3.10 ("3.10-" = 3.10 or later is fine); --eval-annotations so that
#: annotations kept as strings by `from __future__ import annotations` are still checked
#: (e.g. `int | None` needs 3.10, `type X = ...` would need 3.12); --violations prints only
#: the lines that need a newer Python.
VERMIN_ARGS = [
    "-t=3.10-",
    "--no-tips",
    "--violations",
    "--eval-annotations",
    "--no-parse-comments",
    "-q",
]


def python_files(root: Path = ROOT) -> list[str]:
    """Every *.py file under root, skipping hidden folders, environments and build outputs."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d != "__pycache__"
            and not (rel == Path(".") and d.startswith(SKIP_PREFIXES))
        )
        found.extend(str(Path(dirpath, f)) for f in sorted(filenames) if f.endswith(".py"))
    return found


def run(name: str, cmd: list[str]) -> int:
    print(f"--- {name}: {' '.join(cmd[:6])}{' ...' if len(cmd) > 6 else ''}", flush=True)
    rc = subprocess.call(cmd, cwd=ROOT)
    print(f"--- {name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'}", flush=True)
    return rc


def main(argv: list[str]) -> int:
    wanted = argv or ["ruff", "vermin"]
    unknown = set(wanted) - {"ruff", "vermin"}
    if unknown:
        print(f"unknown linter(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    files = python_files()
    if not files:
        print("no Python files found", file=sys.stderr)
        return 2
    rc = 0
    if "ruff" in wanted:
        rc |= run("ruff", [sys.executable, "-m", "ruff", "check", "--no-cache", *files])
    if "vermin" in wanted:
        # vermin has no `python -m vermin`; call its entry point with this interpreter.
        launcher = "import sys, vermin; sys.argv[0] = 'vermin'; sys.exit(vermin.main())"
        rc |= run("vermin", [sys.executable, "-c", launcher, *VERMIN_ARGS, *files])
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
