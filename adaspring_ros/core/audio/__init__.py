"""Sound on the inference path, ROS-free.

* ``pcm``: raw PCM chunks as they travel on the wire (S16LE / F32LE, interleaved channels).
* ``features``: the one feature pipeline (16 kHz mono, 1 s windows, log-mel) shared by training
  and the inference node.
* ``stream_classifier``: 1 s windows cut on the chunk sequence grid, an atomic model slot.
* ``sources``: where the microphone node's audio comes from (live microphone, scripted scene,
  file loop), their fallback order, and playback pacing in whole chunks.
"""
