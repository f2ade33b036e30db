"""Private ROS domains on a shared machine: leasing one, and the environment for its processes.

Tests and the simulated day (whose /clock must never reach a real robot's graph, nor another
simulation on the same host) each take a domain nobody else holds. The lease is an ``flock`` on
``$TMPDIR/adaspring_ros_domains/<id>.lock``, so the kernel drops it when the holder dies: a
crashed run leaks nothing.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import tempfile
from pathlib import Path

#: Valid ROS domain ids on Linux with the default port mapping (0 is left to humans).
DOMAIN_IDS = range(1, 102)

#: Where the domain lock files live (shared by every test run on this machine).
LOCK_DIR = Path(tempfile.gettempdir()) / "adaspring_ros_domains"

#: Environment variables that could make a child join another graph; replaced in children.
_ROS_GRAPH_VARS = ("ROS_DOMAIN_ID", "ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")


class DomainLease:
    """Exclusive use of one ROS domain id, held through an ``flock`` on a lock file.

    The lease is held until :meth:`release` (or until the process exits). Use
    :func:`lease_domain` to get one.
    """

    def __init__(self, domain_id: int, fd: int, path: Path):
        self.domain_id = domain_id
        self._fd: int | None = fd
        self.path = path

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DomainLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"DomainLease(domain_id={self.domain_id}, held={self.held})"


def try_lease_domain(domain_id: int, lock_dir: Path = LOCK_DIR) -> DomainLease | None:
    """Lease exactly ``domain_id`` if nobody holds it, else return None (never blocks)."""
    if domain_id not in DOMAIN_IDS:
        raise ValueError(f"ROS domain id {domain_id} outside {DOMAIN_IDS}")
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{domain_id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return DomainLease(domain_id, fd, path)


def lease_domain(lock_dir: Path = LOCK_DIR) -> DomainLease:
    """Lease a free ROS domain id (1-101), starting at a random one to spread concurrent runs."""
    ids = list(DOMAIN_IDS)
    start = random.randrange(len(ids))
    for domain_id in ids[start:] + ids[:start]:
        lease = try_lease_domain(domain_id, lock_dir)
        if lease is not None:
            return lease
    raise RuntimeError(f"all ROS domain ids {DOMAIN_IDS} are leased (see {lock_dir})")


def child_environment(domain_id: int, log_dir: Path, base: dict[str, str] | None = None) -> dict:
    """The environment for a process that must only see the graph of ``domain_id``."""
    env = dict(os.environ if base is None else base)
    for var in _ROS_GRAPH_VARS:
        env.pop(var, None)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if env.get("ROS_DISTRO") == "humble":  # Humble predates ROS_AUTOMATIC_DISCOVERY_RANGE
        env["ROS_LOCALHOST_ONLY"] = "1"
    env["ROS_LOG_DIR"] = str(log_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env
