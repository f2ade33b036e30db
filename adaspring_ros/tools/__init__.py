"""Commands built on the nodes: ``bringup`` (the graph without launch_ros), ``graph`` (the plan
shared with the launch file), ``monitor`` (live terminal view), ``day_runner`` (the main job: the
simulated UbiEar day) and ``domains`` (private ROS domains for runs and tests)."""
