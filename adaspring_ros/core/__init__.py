"""ROS-free core of AdaSpring, grouped by role. Never imports rclpy (a test fails if it does).

* :mod:`.model`: the self-evolutionary network (search space, operators δ1-δ4, supernet,
  operator profile, checkpoint).
* :mod:`.search`: Runtime3C and what it prices candidates with (Eq. (1) objective, progressive
  shortest encoding, the elite space Δ', baselines, search results).
* :mod:`.audio`: what the inference path does to sound (PCM on the wire, log-mel features,
  1 s windows on the sequence grid) and where it comes from (microphone, scene, files).
* :mod:`.context`: the deployment context and where it comes from (battery sources and the
  energy model, cache budget, evolution triggers and scheduling).
* :mod:`.scene`: the synthetic world used for training and the simulated day (sound synthesis,
  data sets, the scripted UbiEar day).
* :mod:`.measure`: summary statistics every report computes the same way (percentile).
"""
