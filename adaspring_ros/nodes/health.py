"""Counters and warnings a node reports on /diagnostics, so drops are visible, never silent."""

from __future__ import annotations

from collections import Counter

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


class Health:
    """What a node has seen go wrong; published as one DiagnosticStatus.

    ``count(kind)`` for each dropped or refused input; ``warn(key, text)`` for a standing
    condition (stale context, fallback battery source) until ``clear(key)``; ``error`` likewise
    for conditions that stop the node doing its job.
    """

    def __init__(self, node, hardware_id: str = "") -> None:
        self._node = node
        self._hardware_id = hardware_id
        self.counters: Counter[str] = Counter()
        self.values: dict[str, str] = {}
        self._warnings: dict[str, str] = {}
        self._errors: dict[str, str] = {}
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)

    def count(self, kind: str, n: int = 1) -> None:
        self.counters[kind] += n

    def warn(self, key: str, text: str) -> None:
        self._warnings[key] = text

    def error(self, key: str, text: str) -> None:
        self._errors[key] = text

    def clear(self, key: str) -> None:
        self._warnings.pop(key, None)
        self._errors.pop(key, None)

    def status(self) -> DiagnosticStatus:
        if self._errors:
            level, message = DiagnosticStatus.ERROR, "; ".join(self._errors.values())
        elif self._warnings:
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
