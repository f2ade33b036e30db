"""QoS profiles, one per kind of data, so every node and tool agrees on compatibility.

- audio: sensor-data style (best effort, volatile) like every ROS sensor stream: a late chunk is
  worth less than a fresh one; the depth bounds memory and losses show up as sequence gaps.
- reliable: context and events, the topics rqt plots and the monitor shows; nothing dropped.
- latched: the selected configuration, transient-local depth 1, so an inference node that starts
  or restarts late gets the configuration in force at once.
- latest_only: subscriptions where only the newest sample matters (the evolution node's context
  input): DDS itself coalesces a burst down to its last message.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


def audio(depth: int = 50) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


def reliable(depth: int = 10) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latched() -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def latest_only() -> QoSProfile:
    return reliable(depth=1)
