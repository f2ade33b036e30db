"""The one `main()` every node executable shares: init, construct, spin, shut down cleanly.

A node that cannot start (missing checkpoint, no audio source at all) logs one fatal line saying
why and exits with status 1, instead of a traceback or a crash loop.

Start-up: the executables (nodes/start.py) install the stop handling before they import the
node's module (torch alone is 2.5-3 s of imports), so SIGINT or SIGTERM during the imports or
the construction ends the process with status 0 and no traceback, as it does later: no node is
built once a stop was asked for, and one being built is destroyed at once.

Shutdown: SIGINT and SIGTERM (what launch escalates to, and what systemd and docker send) both
end the spin loop, the nodes are destroyed while the rclpy context is still valid, and the
process exits 0. rclpy's own handlers are not installed: they shut the context down from inside
the signal handler, so a timer callback that was publishing at that moment died with
"RCLError: publisher's context is invalid" and exit 1. A second signal during clean-up is
ignored (clean-up is short), so it can neither interrupt it with a traceback nor change the exit
status.
"""

from __future__ import annotations

import atexit
import faulthandler
import importlib
import os
import signal
import sys
import threading
import time

from adaspring_ros.nodes.scheduling import freeze_startup_objects

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def limit_blas_threads() -> None:
    """One BLAS thread per node process.

    The nodes multiply small matrices (a 40x513 mel basis per window); a multi-threaded
    OpenBLAS spinning its threads on a 2-4 core robot shared by five processes turned a 1 ms
    feature extraction into 20-30 ms (measured here). torch keeps its own thread setting.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with librosa (via scikit-learn); without it, BLAS keeps its default
        return
    threadpool_limits(limits=1, user_api="blas")


class StopRequest:
    """Set by SIGINT/SIGTERM; the spin loops poll it. Later signals are ignored."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name = ""

    def install(self) -> StopRequest:
        """Handle the stop signals from now on, and replay one nodes/start.py received earlier
        (early_stop: before this module's own imports had finished)."""
        from adaspring_ros.nodes import early_stop

        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        if early_stop.received:
            self._on_signal(early_stop.received[0], None)
        return self

    def _on_signal(self, signum, _frame) -> None:
        if not self.event.is_set():
            self.signal_name = signal.Signals(signum).name
        self.event.set()
        for sig in STOP_SIGNALS:  # clean-up runs next: a second signal must not interrupt it
            signal.signal(sig, signal.SIG_IGN)

    def is_set(self) -> bool:
        return self.event.is_set()


def init_rclpy(args=None, context=None, stop: StopRequest | None = None) -> StopRequest:
    """rclpy.init without rclpy's signal handlers, and this process's own stop request
    (``stop``: one installed earlier, before the imports)."""
    stop = stop or StopRequest().install()
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(args=args, context=context, signal_handler_options=SignalHandlerOptions.NO)
    return stop


def spin_until_stopped(executor, stop: StopRequest, duration: float = 0.0) -> None:
    """Spin until a stop signal, rclpy shutdown, or ``duration`` real seconds (0 = no limit).

    spin_once with a 0.1 s timeout so a signal is noticed within 0.1 s even with no timer due;
    it is what rclpy.spin does anyway (one wait set per callback).
    """
    from rclpy.executors import ExternalShutdownException

    deadline = time.monotonic() + duration if duration > 0 else None
    try:
        while not stop.is_set() and executor.context.ok():
            if deadline is not None and time.monotonic() >= deadline:
                break
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


def shut_down(nodes, executor=None) -> None:
    """Destroy the nodes while the context is valid, then shut rclpy down; never raises."""
    import rclpy

    for node in nodes:
        if executor is not None:
            executor.remove_node(node)
        node.destroy_node()
    if executor is not None:
        executor.shutdown(timeout_sec=1.0)
    rclpy.try_shutdown()


def exit_now(code: int = 0) -> None:
    """Leave the process at once, once the nodes and rclpy are shut down.

    Why: after a clean shutdown the interpreter's own teardown (freeing some 2,300 modules and
    260,000 objects of torch, librosa and rclpy) took 2-3.3 s of the 5 s a supervisor allows
    (measured here at load 7). Everything that must be closed was closed explicitly before this
    point; the atexit handlers still run and the standard streams are flushed.
    """
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said anyway
            pass
    os._exit(code)


def run_module(module: str, class_name: str, args=None) -> None:
    """`run` the node class ``module.class_name``, imported after the stop handling is in place
    (the executables' entry, nodes/start.py): a signal during the imports exits 0 quietly."""
    stop = StopRequest().install()
    node_class = getattr(importlib.import_module(module), class_name)
    run(node_class, args, stop)


def run(node_class, args=None, stop: StopRequest | None = None) -> None:
    """Spin ``node_class`` on a single-threaded executor until SIGINT/SIGTERM, then exit 0.

    Why not multi-threaded: rclpy's MultiThreadedExecutor re-built its wait set about
    twenty times per audio chunk while the worker held the GIL (measured with
    benchmarks/bench_ros.py: audio -> event p50 20 ms and 50x real time with two threads,
    5 ms and 187x with one).
    """
    stop = stop or StopRequest().install()
    # SIGUSR1 prints every thread's stack to stderr: how to see where a node that will not stop
    # (or stalls) is, without a debugger on the robot (`kill -USR1 <pid>`)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    limit_blas_threads()
    init_rclpy(args, stop=stop)
    if stop.is_set():  # stopped while starting: no node to build
        rclpy.try_shutdown()
        exit_now(0)
    try:
        node = node_class()
    except Exception as exc:
        rclpy.logging.get_logger(node_class.__name__).fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        raise SystemExit(1) from None
    freeze_startup_objects()  # what exists now lives until exit: keep full collections short
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        spin_until_stopped(executor, stop)  # returns at once if a signal came during start-up
    finally:
        shut_down([node], executor)
    exit_now(0)
