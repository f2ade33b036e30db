"""A checkpoint's profile without its weights, cached by the checkpoint file's hash.

Why: the evolution node plans with the profile (accuracy and latency tables) and never runs the
network, but reading it from the checkpoint means importing torch, 2.5-3 s of that node's
start-up on a 2-core machine (python -X importtime), while the inference node imports torch
too. So `checkpoint.load_profile` hashes the file (SHA-256, about 10 ms for the shipped 3.4 MB)
and looks here first: ``profile_<hash>.json`` in the user's cache folder (core/user_cache)
holds the checkpoint version, the profile and the meta exactly as the checkpoint stores them.
A new or retrained checkpoint has another hash, so it misses and is read from the file once
(with torch.load(weights_only=True), tensors memory-mapped), which writes its entry;
`checkpoint.save` writes the entry too, so train_all and reprofile leave the next start warm.
An entry that cannot be read or names another hash or version is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from adaspring_ros.core.user_cache import cache_dir, read_json, write_json

FORMAT = 1


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entry_path(digest: str, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"profile_{digest[:32]}.json"


def lookup(digest: str, version: str, folder: Path | None = None) -> dict | None:
    """The cached {version, profile, meta} of the checkpoint with this hash, or None."""
    try:
        entry = read_json(entry_path(digest, folder))
    except (OSError, ValueError, TypeError):
        return None
    if (entry.get("format") != FORMAT or entry.get("sha256") != digest
            or entry.get("version") != version or not isinstance(entry.get("profile"), dict)
            or not isinstance(entry.get("meta"), dict)):
        return None
    return entry


def store(checkpoint_path: Path, version: str, profile: dict, meta: dict,
          folder: Path | None = None) -> bool:
    """Cache the profile of the checkpoint now at ``checkpoint_path``; False if not writable,
    or when JSON cannot hold it as it is (integer dict keys would come back as strings)."""
    if json.loads(json.dumps([profile, meta])) != [profile, meta]:
        return False
    digest = file_sha256(checkpoint_path)
    return write_json(entry_path(digest, folder), {
        "format": FORMAT, "sha256": digest, "version": version, "checkpoint": str(checkpoint_path),
        "profile": profile, "meta": meta})
