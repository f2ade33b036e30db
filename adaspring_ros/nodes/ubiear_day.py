"""`ubiear_day`: the README's main job, the simulated 09:00-17:00 UbiEar day on the real graph.

See adaspring_ros.nodes.day_runner for what it starts, measures and writes.
"""

from __future__ import annotations

import sys

from .day_runner import main

if __name__ == "__main__":
    sys.exit(main())
