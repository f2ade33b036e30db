"""The synthetic world: training data and the simulated day (never the robot's real input).

* ``sound_synth``: the seeded 9-class UbiEar-style sound generator.
* ``dataset``: synthetic data sets and the loader for a user's own folder-per-class recordings.
* ``day_scene``: the scripted 09:00-17:00 UbiEar day the main job plays.
"""
