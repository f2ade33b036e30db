"""Where every benchmark leaves its figures: one JSON file, its folder made, its path printed."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(path, report: dict) -> Path:
    """Write ``report`` as indented JSON to ``path`` (folders created) and say where.

    ``default=str`` keeps a figure that is not plain JSON (a tuple key, a Path) readable instead
    of losing the whole report at the end of a long run.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"\nwrote {out}")
    return out
