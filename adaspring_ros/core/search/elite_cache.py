"""Δ' kept between runs: the elite space of a profile, cached by the profile's content.

Why: the evolution node builds Δ' (core/search/elite_space) once at start, 0.1-0.35 s of one
core on this 2-core machine while the other nodes start too, and the result depends only on the
profile's tables and the energy objective. So it is stored as JSON in the user's cache folder
(core/user_cache), under a hash of the profile's full dict, the objective and FORMAT. A profile
that changes in any number (a retrained checkpoint, a latency table measured on this machine)
has another hash and misses. A hit is checked before use: every member must be a configuration
of the profile's architecture whose sums are exactly the ones the profile gives it
(LayerTables.sums, which the build's running sums equal), and the backbone must be a member;
anything else is rebuilt and rewritten.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.user_cache import cache_dir, read_json, write_json

#: bump when build_progressive's result for a given profile changes
FORMAT = 1


def profile_key(profile: Profile, energy_objective: str) -> str:
    blob = json.dumps([FORMAT, energy_objective, profile.to_dict()], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def entry_path(key: str, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"elite_{key[:32]}.json"


def to_entry(key: str, space) -> dict:
    return {"format": FORMAT, "key": key, "energy_objective": space.energy_objective,
            "encoding": space.encoding, "candidates_priced": space.candidates_priced,
            "build_ms": space.build_ms,
            "members": [[list(m.config), list(m.sums)] for m in space.members]}


def from_entry(entry: dict, key: str, profile: Profile, tables):
    """The EliteSpace an entry holds, or ValueError/KeyError/TypeError saying why not."""
    from adaspring_ros.core.search.elite_space import EliteMember, EliteSpace

    if entry.get("format") != FORMAT or entry.get("key") != key:
        raise ValueError("it was built for another profile, objective or format")
    members = []
    for ops, sums in entry["members"]:
        config = ss.validate_configuration(profile.arch, tuple(ops))
        expected = tables.sums(config)
        if list(expected) != list(sums):
            raise ValueError(f"member {config} has sums {sums}, the profile gives {expected}")
        members.append(EliteMember(config, expected))
    if ss.backbone_configuration(profile.arch) not in {m.config for m in members}:
        raise ValueError("the backbone is not a member")
    return EliteSpace(tuple(members), int(entry["candidates_priced"]),
                      float(entry["build_ms"]), str(entry["encoding"]),
                      str(entry["energy_objective"]), source="cache")


def load(profile: Profile, energy_objective: str, tables, folder: Path | None = None):
    """The cached Δ' of (profile, objective), or None when there is none usable."""
    key = profile_key(profile, energy_objective)
    try:
        return from_entry(read_json(entry_path(key, folder)), key, profile, tables)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(profile: Profile, space, folder: Path | None = None) -> bool:
    key = profile_key(profile, space.energy_objective)
    return write_json(entry_path(key, folder), to_entry(key, space))
