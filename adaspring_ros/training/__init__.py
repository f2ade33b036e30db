"""Offline training of the self-evolutionary network and its operator profile (no ROS needed).

Entry point: ``python -m adaspring_ros.training.train_all --out models/`` (see train_all.py).
"""
