"""ProfileMemo: one value per profile object, never a stale one after the profile is gone."""

import gc

from adaspring_ros.core.search.profile_memo import ProfileMemo
from adaspring_ros.testing.profile_fixture import make_profile


def test_a_value_is_built_once_per_profile_and_extra_key():
    memo, calls = ProfileMemo(), []
    a, b = make_profile(seed=0), make_profile(seed=1)

    def build(tag):
        calls.append(tag)
        return tag

    assert memo.get(a, lambda: build("a")) == "a"
    assert memo.get(a, lambda: build("again")) == "a"  # cached
    assert memo.get(b, lambda: build("b")) == "b"  # another profile object
    assert memo.get(a, lambda: build("a-paper"), "paper") == "a-paper"  # another extra key
    assert calls == ["a", "b", "a-paper"]


def test_entries_go_with_their_profile():
    memo = ProfileMemo()
    profile = make_profile(seed=2)
    memo.get(profile, lambda: "value")
    assert len(memo) == 1
    del profile
    gc.collect()
    assert len(memo) == 0
