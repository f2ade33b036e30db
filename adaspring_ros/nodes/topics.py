"""Topic names (relative, so a node's namespace applies) shared by nodes, tools and tests."""

AUDIO = "audio"
BATTERY = "battery_state"
STORAGE_BUDGET = "context/storage_budget"
CONTEXT = "context"
CONFIG = "compression_config"
EVENTS = "sound_events"  # one SoundEvent per detected event
WINDOWS = "sound_windows"  # one SoundEvent per classified window
ACTIVE_CONFIG = "inference/active_config"
NOTIFICATIONS = "notifications"
GROUND_TRUTH = "scene/ground_truth"
DIAGNOSTICS = "/diagnostics"
CLOCK = "/clock"
LATENCY = "inference/latency"
