"""Counters and warnings a node reports on /diagnostics, so drops are visible, never silent."""

from __future__ import annotations

from collections import Counter

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from adaspring_ros.nodes import topics


def status_values(status: DiagnosticStatus) -> dict[str, str]:
    """A DiagnosticStatus's key/value pairs (counters and values) as a dict."""
    return {kv.key: kv.value for kv in status.values}


def status_node(status: DiagnosticStatus) -> str:
    """The reporting node's name without its namespace ("/robot1/inference" -> "inference")."""
    return status.name.rsplit("/", 1)[-1]


def status_level(status: DiagnosticStatus) -> int:
    """OK 0, WARN 1, ERROR 2, STALE 3 (the ``byte`` field arrives as bytes of length 1)."""
    level = status.level
    return ord(level) if isinstance(level, bytes) else int(level)


class Health:
    """What a node has seen go wrong; published as one DiagnosticStatus.

    ``count(kind)`` for each dropped or refused input; ``warn(key, text)`` for a standing
    condition (stale context, fallback battery source) until ``clear(key)``. There is no ERROR
    level: a node that cannot do its job does not start (node_main reports why and exits).
    """

    def __init__(self, node, hardware_id: str = "") -> None:
        self._node = node
        self._hardware_id = hardware_id
        self.counters: Counter[str] = Counter()
        self.values: dict[str, str] = {}
        self._warnings: dict[str, str] = {}
        self._pub = node.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, 10)

    def count(self, kind: str, n: int = 1) -> None:
        self.counters[kind] += n

    def warn(self, key: str, text: str) -> None:
        self._warnings[key] = text

    def clear(self, key: str) -> None:
        self._warnings.pop(key, None)

    def status(self) -> DiagnosticStatus:
        if self._warnings:
            level, message = DiagnosticStatus.WARN, "; ".join(self._warnings.values())
        else:
            level, message = DiagnosticStatus.OK, "ok"
        values = [KeyValue(key=k, value=str(v)) for k, v in sorted(self.counters.items())]
        values += [KeyValue(key=k, value=v) for k, v in sorted(self.values.items())]
        return DiagnosticStatus(level=level, name=self._node.get_fully_qualified_name(),
                                message=message, hardware_id=self._hardware_id, values=values)

    def publish(self) -> None:
        msg = DiagnosticArray()
        msg.header.stamp = self._node.get_clock().now().to_msg()
        msg.status = [self.status()]
        self._pub.publish(msg)
