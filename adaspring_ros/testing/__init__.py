"""Support kit shared by the test suite and the benchmarks (importable, no sys.path tricks).

* ``ros_harness``: a private ROS 2 world per test (own domain, child processes, rclpy context).
* ``profile_fixture``: a small synthetic profile and tiny network for fast unit tests.
* ``fault_scenarios``: the fault and overload scenarios shared by tests and fault_report.
"""
