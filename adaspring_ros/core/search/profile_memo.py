"""Values derived from a Profile, computed once per Profile object.

Profiles are not hashable (a mutable dataclass), so entries are keyed by id() and guarded by a
weak reference: an id reused after the profile was collected never returns a stale value, and
the entry goes with its profile. A profile is treated as immutable once searched: tune it, then
build a new Profile object. Used for the search's per-layer tables (objective.layer_tables), the
elite space Δ' (elite_space.elite_space) and the mutation noise (runtime3c.mutation_noise).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from adaspring_ros.core.model.profile import Profile

T = TypeVar("T")


class ProfileMemo(Generic[T]):
    """``get(profile, build, *extra)``: ``build()``'s value for (that profile object, extra)."""

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[weakref.ref, T]] = {}

    def get(self, profile: Profile, build: Callable[[], T], *extra: Hashable) -> T:
        key = (id(profile), *extra)
        hit = self._entries.get(key)
        if hit is not None and hit[0]() is profile:
            return hit[1]
        value = build()
        self._entries[key] = (weakref.ref(profile, lambda _ref, k=key: self._entries.pop(k, None)),
                              value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
