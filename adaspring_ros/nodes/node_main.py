"""The one `main()` every node executable shares: init, construct, spin, shut down cleanly.

A node that cannot start (missing checkpoint, no audio source at all) logs one fatal line saying
why and exits with status 1, instead of a traceback or a crash loop.
"""

from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException


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


def run(node_class, args=None) -> None:
    """Spin ``node_class`` on a single-threaded executor until shutdown.

    Why not multi-threaded: rclpy's MultiThreadedExecutor re-built its wait set about
    twenty times per audio chunk while the worker held the GIL (measured with
    benchmarks/bench_ros.py: audio -> event p50 20 ms and 50x real time with two threads,
    5 ms and 187x with one).
    """
    limit_blas_threads()
    rclpy.init(args=args)
    try:
        node = node_class()
    except Exception as exc:
        rclpy.logging.get_logger(node_class.__name__).fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        raise SystemExit(1) from None
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
