"""Sound events from window classifications: calibration, per-class policy, event tracking."""
