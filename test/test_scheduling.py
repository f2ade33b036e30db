"""Real-time priority for the inference node's callback thread, and the frozen start-up heap.

The policy is read back from the kernel (``/proc/<pid>/task/<tid>/stat``, field 41) of the real
node process, so what is asserted is what the scheduler will do, not what the node says.
"""

from __future__ import annotations

import errno
import gc
import threading
from pathlib import Path

import pytest

from adaspring_ros.nodes import scheduling
from adaspring_ros.testing.node_kit import Diagnostics, set_parameter, start

SCHED_FIFO = 1


def _policies(pid: int) -> dict[int, tuple[int, int]]:
    """tid -> (policy, real-time priority) of every thread of ``pid``, as the kernel has them."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        out[int(task.name)] = (int(fields[38]), int(fields[37]))  # policy, rt_priority
    return out


def _in_thread(fn):
    """Run ``fn`` in a fresh thread (the policy is per thread) and return what it returned."""
    box = []
    t = threading.Thread(target=lambda: box.append(fn()))
    t.start()
    t.join()
    return box[0]


def test_a_refusal_leaves_the_thread_as_it_was_and_says_how_to_grant_it():
    def refuse(pid, policy, param):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    state = _in_thread(lambda: (scheduling.set_realtime_priority(30, setter=refuse),
                                scheduling.current_policy()))
    assert not state[0].granted
    assert state[0].policy == "SCHED_OTHER" == state[1]
    assert "rtprio" in state[0].reason and "realtime_priority to 0" in state[0].reason


def test_priorities_outside_the_offered_range_are_errors():
    with pytest.raises(ValueError):
        scheduling.set_realtime_priority(99)
    with pytest.raises(ValueError):
        scheduling.set_realtime_priority(-1)


def test_the_policy_is_the_calling_threads_only():
    def ask():
        state = scheduling.set_realtime_priority(20)
        seen = scheduling.current_policy()
        scheduling.set_realtime_priority(0)
        return state, seen, scheduling.current_policy()

    state, seen, after = _in_thread(ask)
    if state.granted:
        assert seen == "SCHED_FIFO 20"
        assert after == "SCHED_OTHER"
    else:  # no rtprio rights here: refused with the fix, and nothing changed
        assert seen == "SCHED_OTHER" and "rtprio" in state.reason
    assert scheduling.current_policy() == "SCHED_OTHER"  # this thread was never touched


def test_freezing_takes_the_start_up_objects_out_of_later_collections():
    objects = [[i] for i in range(10_000)]
    try:
        frozen = scheduling.freeze_startup_objects()
        assert frozen >= len(objects)
        assert len(gc.get_objects()) < frozen
    finally:
        gc.unfreeze()


@pytest.mark.ros
def test_inference_node_runs_its_callbacks_at_the_priority_asked_and_changes_it_at_run_time(ros):
    inference = start(ros, "inference", realtime_priority=20)
    diags = Diagnostics(ros)
    assert ros.spin_until(lambda: "scheduling" in diags.values("inference"), 90), \
        ros.children_report()
    granted = diags.values("inference")["scheduling"] == "SCHED_FIFO 20"
    fifo = [tid for tid, (policy, _) in _policies(inference.pid).items() if policy == SCHED_FIFO]
    if not granted:  # no rtprio rights where this runs: the node must say so and keep serving
        assert not fifo
        assert int(diags.values("inference").get("realtime_refused", 0)) >= 1
        return
    # exactly one thread, the executor's (the DDS threads keep the normal scheduler)
    assert len(fifo) == 1
    assert _policies(inference.pid)[fifo[0]] == (SCHED_FIFO, 20)

    result = set_parameter(ros, ros.default_node(), "inference", "realtime_priority", 0)
    assert result.successful, result.reason
    assert not [t for t, (p, _) in _policies(inference.pid).items() if p == SCHED_FIFO]
    assert ros.spin_until(lambda: diags.values("inference").get("scheduling") == "SCHED_OTHER",
                          10)
    assert inference.running
