"""The user's cache folder for what this package derives once and reuses between runs.

``$XDG_CACHE_HOME/adaspring_ros/`` (default ``~/.cache/adaspring_ros/``): the quick on-device
latency tables (core/model/device_table), a checkpoint's profile read without its weights
(core/model/profile_cache) and the elite space Δ' built from a profile (core/search/elite_space).
Every entry is plain JSON, keyed by a hash of everything it was derived from, so a changed
input simply misses; a missing or unreadable entry is derived again, never trusted over its
source. Writes are atomic (a temporary file, then a rename): two nodes starting together can
both write an entry and neither reads half of one. A folder that cannot be written (read-only
home, full disk) costs only the next start the same work, so writing never raises.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "adaspring_ros"


def read_json(path: Path) -> dict:
    """The entry as a dict; OSError / ValueError (JSON) / TypeError say why it is unusable."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise TypeError(f"{path} does not hold a JSON object")
    return data


def write_json(path: Path, data: dict) -> bool:
    """Write atomically; False (and nothing half-written) when the folder is not writable."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n")
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False
    return True
