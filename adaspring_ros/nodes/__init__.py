"""The rclpy nodes of adaspring_ros: thin glue between ROS messages and adaspring_ros.core."""
