"""Support kit shared by the test suite and the benchmarks (importable, no sys.path tricks).

* ``ros_harness``: a private ROS 2 world per test (own domain, child processes, rclpy context).
* ``node_kit``: starting the nodes (the evolution node with shared defaults), building contexts
  and audio chunks, reading /diagnostics, setting and getting parameters.
* ``profile_fixture``: a small synthetic profile and tiny network for fast unit tests.
* ``fault_scenarios``: the fault and overload scenarios shared by tests and fault_report.
"""
