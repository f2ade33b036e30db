"""One versioned file holding the whole self-evolutionary network, its profile and metadata.

The file is a plain dict of tensors, strings and numbers written by `torch.save` and read with
``torch.load(weights_only=True)``, which refuses anything that could run code on load; so a
checkpoint fetched from elsewhere cannot execute anything when the robot starts. Every way a
file can be unusable (missing, truncated, corrupt, written by another version, carrying
pickled code) becomes a `CheckpointError` naming the file and the fix, instead of a torch
traceback in a ROS node's log.

Where the shipped checkpoint is found (`default_checkpoint`): the ADASPRING_CHECKPOINT
environment variable if set; else ``models/ubiear_supernet.pt`` in the source tree; else
``share/adaspring_ros/models/`` under an install prefix (AMENT_PREFIX_PATH, COLCON_PREFIX_PATH,
the prefix this package is installed in, sys.prefix), where the ROS build installs models/.

`load_profile` gives the profile without the weights (what the evolution node plans with),
from a cache keyed by the file's hash when it can (core/model/profile_cache), so that node
never imports torch; torch is imported by the functions that need it, not by this module.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from adaspring_ros.core.model import profile_cache
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Profile

if TYPE_CHECKING:
    from adaspring_ros.core.model.supernet import SelfEvolutionaryNet

CHECKPOINT_VERSION = "adaspring-ubiear-1"
CHECKPOINT_NAME = "ubiear_supernet.pt"
PROFILE_NAME = "ubiear_profile.json"
ENV_VAR = "ADASPRING_CHECKPOINT"
_FORMAT = "adaspring_ros.checkpoint"
_REGENERATE = ("regenerate it with `python -m adaspring_ros.training.train_all --out models/`, "
               "or restore the shipped models/ubiear_supernet.pt (git checkout -- models/)")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and how to fix it."""


@dataclass
class LoadedCheckpoint:
    net: SelfEvolutionaryNet
    profile: Profile
    version: str
    meta: dict = field(default_factory=dict)
    path: Path | None = None


@dataclass
class ProfileCheckpoint:
    """A checkpoint's profile, version and meta, without its weights (``load_profile``)."""

    profile: Profile
    version: str
    meta: dict
    path: Path
    source: str  # "cache <entry>" or "checkpoint" (read from the file itself)


def checkpoint_candidates() -> list[Path]:
    """Where the shipped checkpoint may live, most specific first (env var handled apart)."""
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "models" / CHECKPOINT_NAME]
    prefixes = []
    for var in ("AMENT_PREFIX_PATH", "COLCON_PREFIX_PATH"):
        prefixes += [Path(p) for p in os.environ.get(var, "").split(os.pathsep) if p]
    if len(here.parents) > 5:  # <prefix>/lib/pythonX.Y/site-packages/adaspring_ros/core
        prefixes.append(here.parents[5])
    prefixes.append(Path(sys.prefix))
    candidates += [p / "share" / "adaspring_ros" / "models" / CHECKPOINT_NAME for p in prefixes]
    return candidates


def default_checkpoint() -> Path:
    """The checkpoint to load when none is given (see the module docstring for the order)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    candidates = checkpoint_candidates()
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0]


DEFAULT_CHECKPOINT: Path = default_checkpoint()


def _check_plain(value, where: str) -> None:
    """weights_only loading accepts only these types; fail at save time, not on the robot.

    Exact types: a subclass (torch.__version__ is a str subclass) pickles as its own class,
    which safe loading then refuses.
    """
    if value is None or type(value) in (bool, int, float, str):
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if type(value) is dict:
        for k, item in value.items():
            if type(k) not in (str, int):
                raise ValueError(f"{where} has key {k!r} of type {type(k).__name__}; "
                                 "expected str or int keys")
            _check_plain(item, f"{where}[{k!r}]")
        return
    raise ValueError(f"{where} holds a {type(value).__name__}; checkpoint metadata must be "
                     "str, int, float, bool, None, or lists/dicts of those")


def save(path, net: SelfEvolutionaryNet, profile: Profile, meta: dict | None = None) -> Path:
    """Write the checkpoint atomically (a crash never leaves a half-written file in place), and
    its profile to the profile cache (train_all and reprofile leave the next start warm)."""
    import torch

    meta = dict(meta or {})
    _check_plain(meta, "meta")
    profile_dict = profile.to_dict()
    _check_plain(profile_dict, "profile")
    if profile.checkpoint_version != CHECKPOINT_VERSION:
        raise ValueError(f"profile is for checkpoint version {profile.checkpoint_version!r}, "
                         f"expected {CHECKPOINT_VERSION!r}")
    if profile.arch != net.arch:
        raise ValueError("profile and network describe different architectures")
    payload = {
        "format": _FORMAT,
        "version": CHECKPOINT_VERSION,
        "arch": net.arch.to_dict(),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()},
        "profile": profile_dict,
        "meta": meta,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    profile_cache.store(path, CHECKPOINT_VERSION, profile_dict, meta)
    return path


def save_with_profile(folder: Path, net: SelfEvolutionaryNet, profile: Profile,
                      meta: dict | None = None) -> Path:
    """The checkpoint and, beside it, its profile as readable JSON (what models/ ships)."""
    path = save(Path(folder) / CHECKPOINT_NAME, net, profile, meta)
    (Path(folder) / PROFILE_NAME).write_text(json.dumps(profile.to_dict(), indent=1) + "\n")
    return path


def _reason(exc: BaseException) -> str:
    """The informative line of a torch.load error (it leads with generic advice)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "Unsupported global" in line or "WeightsUnpickler error" in line:
            return line.split("Please use")[0].strip()
    return lines[0] if lines else type(exc).__name__


def _read(path: Path, mmap: bool = False) -> dict:
    """The payload, safely; ``mmap`` maps the tensors instead of reading them (profile only)."""
    import torch

    if not path.exists():
        hint = f" ({ENV_VAR} is set to it)" if os.environ.get(ENV_VAR) == str(path) else ""
        raise CheckpointError(f"checkpoint {path} does not exist{hint}; {_REGENERATE}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file; point {ENV_VAR} at the .pt file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        first = _reason(exc)
        if "weights only" in str(exc).lower() or "weights_only" in str(exc).lower():
            raise CheckpointError(
                f"checkpoint {path} contains pickled Python objects (code) that safe loading "
                f"refuses ({first}); do not load it with weights_only=False: {_REGENERATE}"
            ) from exc
        raise CheckpointError(f"checkpoint {path} is corrupt ({first}); {_REGENERATE}") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError,
            # random bytes read as a legacy pickle stream can also underflow its stack or
            # miss its memo (seen: IndexError in test_garbage_file)
            IndexError, KeyError, TypeError, OverflowError) as exc:
        first = _reason(exc)
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({first}); {_REGENERATE}") from exc


def _checked_version(path: Path, payload) -> str:
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not an adaspring_ros checkpoint; {_REGENERATE}")
    version = payload.get("version")
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has version {version!r} but this code reads "
            f"{CHECKPOINT_VERSION!r}; {_REGENERATE}")
    return version


def _inconsistent(path: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path} is incomplete or inconsistent ({type(exc).__name__}: "
        f"{str(exc).splitlines()[0] if str(exc) else ''}); {_REGENERATE}")


def _checked_profile(path: Path, profile_dict) -> Profile:
    try:
        profile = Profile.from_dict(profile_dict)
    except (KeyError, TypeError, ValueError) as exc:
        raise _inconsistent(path, exc) from exc
    if profile.checkpoint_version != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} carries a profile for version {profile.checkpoint_version!r}; "
            f"{_REGENERATE}")
    return profile


def load(path=None) -> LoadedCheckpoint:
    """Read, version-check and rebuild the network and profile, or raise CheckpointError."""
    from adaspring_ros.core.model.supernet import SelfEvolutionaryNet

    path = default_checkpoint() if path is None else Path(path)
    payload = _read(path)
    version = _checked_version(path, payload)
    try:
        arch = ss.Architecture.from_dict(payload["arch"])
        net = SelfEvolutionaryNet(arch)
        net.load_state_dict(payload["state_dict"], strict=True)
        profile_dict = payload["profile"]
        meta = dict(payload.get("meta", {}))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise _inconsistent(path, exc) from exc
    profile = _checked_profile(path, profile_dict)
    net.eval()
    return LoadedCheckpoint(net=net, profile=profile, version=version, meta=meta, path=path)


def load_profile(path=None) -> ProfileCheckpoint:
    """The profile, version and meta of a checkpoint, without building its network.

    From the profile cache when it holds this file's hash (no torch import at all); else read
    from the file with the same checks as `load` (tensors memory-mapped, not read) and cached.
    The weights are not checked here: the inference node, which loads them, refuses a file
    whose weights do not fit (`load`).
    """
    path = default_checkpoint() if path is None else Path(path)
    if path.is_file():
        digest = profile_cache.file_sha256(path)
        entry = profile_cache.lookup(digest, CHECKPOINT_VERSION)
        if entry is not None:
            profile = _checked_profile(path, entry["profile"])
            return ProfileCheckpoint(profile, entry["version"], dict(entry["meta"]), path,
                                     f"cache {profile_cache.entry_path(digest)}")
    payload = _read(path, mmap=True)
    version = _checked_version(path, payload)
    try:
        profile_dict, meta = payload["profile"], dict(payload.get("meta", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise _inconsistent(path, exc) from exc
    profile = _checked_profile(path, profile_dict)
    profile_cache.store(path, version, profile_dict, meta)
    return ProfileCheckpoint(profile, version, meta, path, "checkpoint")
