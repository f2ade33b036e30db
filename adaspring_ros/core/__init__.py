"""ROS-free core of AdaSpring: features, self-evolutionary network, profile and Runtime3C."""
