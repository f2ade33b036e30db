"""Terminal monitor: the context, the configuration in force and the latest events, live.

    monitor [--namespace NS] [--once] [--timeout S]

A real client of the topics (the way rqt would be): it subscribes to context, battery_state,
compression_config (transient-local, so it sees the configuration in force at once), sound_events
(one per detected event: urgency, duration, peak confidence), sound_windows (the latest window),
notifications and /diagnostics. ``--once`` prints one snapshot as soon as a context, a
configuration and a classified window have been seen, then exits (0), or exits 1 after
``--timeout``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import deque

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import BatteryState

from adaspring_ros.core.scene.day_scene import format_clock
from adaspring_ros.msg import CompressionConfig, DeploymentContext, SoundEvent
from adaspring_ros.nodes import qos, topics
from adaspring_ros.nodes.health import status_level
from adaspring_ros.tools import graph

LEVELS = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}


class MonitorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("monitor", **kwargs)
        self.last_context: DeploymentContext | None = None
        self.last_battery: BatteryState | None = None
        self.last_config: CompressionConfig | None = None
        self.events: deque[SoundEvent] = deque(maxlen=8)
        self.last_window: SoundEvent | None = None
        self.notifications = 0
        self.health: dict[str, tuple[int, str]] = {}
        self.create_subscription(DeploymentContext, topics.CONTEXT, self._set("last_context"),
                                 qos.reliable())
        self.create_subscription(BatteryState, topics.BATTERY, self._set("last_battery"),
                                 qos.reliable())
        self.create_subscription(CompressionConfig, topics.CONFIG, self._set("last_config"),
                                 qos.latched())
        self.create_subscription(SoundEvent, topics.EVENTS, self._event, qos.reliable(100))
        self.create_subscription(SoundEvent, topics.WINDOWS, self._set("last_window"),
                                 qos.reliable(100))
        self.create_subscription(SoundEvent, topics.NOTIFICATIONS, self._notified,
                                 qos.reliable(100))
        self.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, self._diagnostics, 50)

    def _set(self, attr):
        def callback(msg) -> None:
            setattr(self, attr, msg)
        return callback

    def _event(self, msg: SoundEvent) -> None:
        self.events.append(msg)

    def _notified(self, msg: SoundEvent) -> None:
        self.notifications += 1

    def _diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.health[status.name] = (status_level(status), status.message)

    @property
    def complete(self) -> bool:
        return (self.last_context is not None and self.last_config is not None
                and self.last_window is not None and bool(self.health))

    def render(self) -> str:
        lines = []
        c = self.last_context
        if c is None:
            lines.append("context       (waiting)")
        else:
            when = format_clock(c.scene_time_s) if math.isfinite(c.scene_time_s) else "live"
            lines.append(
                f"context       {when}  battery {c.battery:.2f} ({c.battery_source})  "
                f"storage {c.storage_budget_bytes / 2**20:.2f} MiB  "
                f"events {c.event_rate_per_min:.1f}/min")
        g = self.last_config
        if g is None:
            lines.append("configuration (waiting)")
        else:
            ok = "all constraints met" if g.feasible else \
                "VIOLATES " + ", ".join(g.violated_constraints)
            lines.append(f"configuration #{g.config_id} [{' '.join(g.layer_operators)}]  {ok}")
            lines.append(
                f"              A loss {g.predicted_accuracy_loss:.2f} pp  "
                f"T {g.predicted_latency_ms:.2f} ms (budget {g.context.latency_budget_ms:.2f})  "
                f"Sp {g.params_bytes / 2**20:.2f} MiB  E {g.energy:.1f}  "
                f"{g.energy_per_window_mj:.2f} mJ/window ({g.energy_objective or '?'})  "
                f"search {g.search_time_ms:.2f} ms")
            lines.append(f"              trigger: {g.trigger}")
        w = self.last_window
        if w is not None:
            lines.append(f"window        {w.label:<15} {w.confidence:5.2f}  "
                         f"{w.model_latency_ms:6.2f} ms model  config #{w.config_id}")
        lines.append(f"events        last {len(self.events)} (notifications: {self.notifications})")
        for e in list(self.events)[::-1]:
            flag = "!" if e.emergency else " "
            urgency = URGENCY.get(e.urgency, "?")
            lines.append(f"           {flag}  {e.label:<15} {urgency:<9} {e.duration_s:5.1f} s  "
                         f"peak {e.peak_confidence:4.2f}  found after {e.detection_delay_s:4.1f} s"
                         f"  config #{e.config_id}")
        for name, (level, message) in sorted(self.health.items()):
            lines.append(f"health        {name:<28} {LEVELS.get(level, level)}: {message}")
        return "\n".join(lines)


URGENCY = {SoundEvent.URGENCY_AMBIENT: "ambient", SoundEvent.URGENCY_SOCIAL: "social",
           SoundEvent.URGENCY_EMERGENCY: "emergency"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--namespace", default="")
    p.add_argument("--once", action="store_true", help="print one complete snapshot and exit")
    p.add_argument("--timeout", type=float, default=30.0, help="with --once: give up after S s")
    p.add_argument("--period", type=float, default=1.0, help="refresh period, seconds")
    args, ros_args = p.parse_known_args(argv)
    rclpy.init(args=["monitor", *ros_args])
    node = MonitorNode(namespace=graph.normalise_namespace(args.namespace) or None)
    start = last = time.monotonic()
    code = 0
    try:
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.05)
            now = time.monotonic()
            if args.once:
                if node.complete:
                    print(node.render())
                    break
                if now - start > args.timeout:
                    print(node.render())
                    print(f"monitor: nothing complete within {args.timeout} s", file=sys.stderr)
                    code = 1
                    break
            elif now - last >= args.period:
                last = now
                if sys.stdout.isatty():
                    print("\033[2J\033[H", end="")
                print(node.render(), flush=True)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
