"""Joules one inference window costs, and the robot's energy budget around it.

One model, used both by the search's default objective (``core/search/objective.py``) and by the
simulated battery (``core/context/battery.py``), so the battery drains by exactly the energy the
objective minimised. Paper Eq. (2)'s E = μ1·C/Sp + μ2·C/Sa is arithmetic intensity, a proxy for
efficiency that is largest at the uncompressed backbone; it is kept in messages and reports, but
the energy a window costs is this:

    E_window = C·e_mac + (Sp + Sa)·e_byte + T·P_active

    C·e_mac       dynamic energy of the multiply-accumulates as a general-purpose core executes
                  them. Default 0.25 nJ per fp32 MAC, an estimate for the Jetbot's Cortex-A57:
                  about 0.75 W of dynamic core power (below) at the ~3 GMAC/s such a core
                  sustains on batch-1 convolutions (1.43 GHz, 4-lane NEON FMA, ~50 % busy).
                  The arithmetic alone is far less (4.6 pJ for an fp32 multiply + add at 45 nm,
                  Horowitz, "Computing's energy problem", ISSCC 2014); instruction fetch, register
                  file and cache traffic are most of it (~70 pJ per instruction, same source).
    (Sp+Sa)·e_byte  moving every parameter byte in and every activation byte out once per window.
                  Default 0.16 nJ per byte: 640 pJ per 32-bit off-chip DRAM access (Horowitz
                  2014, the figure Han et al., "EIE", ISCA 2016, build on). Weights read once a
                  second do not stay cached beside the robot's other processes (the paper's
                  cache contention σ), so DRAM is the honest default, not the L2 (≈12 pJ/byte).
    T·P_active    what the busy core draws per second that does not scale with the work
                  (leakage, clock tree, uncore), over the window's latency T. Default 0.25 W:
                  about a quarter of the ~1 W a busy A57/A72 core adds to its board (Raspberry
                  Pi 4B: about 2.7 W idle, 6.4 W with four cores busy), a typical static share
                  at 16-28 nm. On a Jetson, jetson-stats' power rails calibrate it:
                  ``calibrated_active_power``.

All three terms are sums over layers (C, Sp, Sa and the latency table are additive), so the
window energy of a configuration is the sum of its layers' energies and it fits the search's
per-layer tables and the elite space Δ'. Latency is whatever the caller passes: the profile's
prediction in the search, a measured one where the caller has it.

The defaults are estimates for an ARM board, right to within a factor of a few; calibrate on
the robot. What they imply on the shipped profile is printed by benchmarks/bench_runtime3c.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Default energy per multiply-accumulate, J (see the module docstring for the source).
JOULES_PER_MAC = 0.25e-9
#: Default energy per parameter or activation byte moved, J.
JOULES_PER_BYTE = 0.16e-9
#: Default power a busy core draws that does not scale with its work, W.
ACTIVE_POWER_W = 0.25


def _non_negative(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return value


@dataclass(frozen=True)
class WindowEnergy:
    """The three per-window constants; ``joules`` prices one inference window."""

    joules_per_mac: float = JOULES_PER_MAC
    joules_per_byte: float = JOULES_PER_BYTE
    active_power_w: float = ACTIVE_POWER_W

    def __post_init__(self) -> None:
        for name in ("joules_per_mac", "joules_per_byte", "active_power_w"):
            object.__setattr__(self, name, _non_negative(name, getattr(self, name)))

    def joules(self, macs: float, params_bytes: float, act_bytes: float,
               latency_ms: float) -> float:
        """E_window in joules; latency in milliseconds (the core's unit everywhere)."""
        return (macs * self.joules_per_mac + (params_bytes + act_bytes) * self.joules_per_byte
                + latency_ms * 1e-3 * self.active_power_w)

    def dynamic_joules(self, macs: float, params_bytes: float, act_bytes: float) -> float:
        """The work-proportional part (MACs and bytes), without the time term."""
        return macs * self.joules_per_mac + (params_bytes + act_bytes) * self.joules_per_byte


def calibrated_active_power(window: WindowEnergy, *, busy_power_w: float, idle_power_w: float,
                            macs: int, params_bytes: int, act_bytes: int,
                            latency_ms: float) -> float:
    """P_active that makes ``window`` reproduce a measured inference energy.

    On a Jetson the board's power is read (jetson-stats) once idle and once while windows run
    back to back: (busy - idle) x T is what one window costs, and whatever the MAC and byte
    terms do not explain is the time term. Never negative (a noisy reading cannot make a busy
    core cheaper than an idle one).
    """
    latency_s = _non_negative("latency_ms", latency_ms) * 1e-3
    if latency_s <= 0.0:
        raise ValueError("latency_ms must be > 0 to calibrate a power")
    busy = _non_negative("busy_power_w", busy_power_w)
    idle = _non_negative("idle_power_w", idle_power_w)
    measured_j = (busy - idle) * latency_s
    residual = measured_j - window.dynamic_joules(macs, params_bytes, act_bytes)
    return max(0.0, residual / latency_s)


@dataclass
class EnergyModel:
    """The robot's energy budget: base load, inference windows, notifications, pack capacity.

    base_power_w: the robot idling, microphone sampling, WiFi (2.5 W).
    windows_per_second: continuous listening classifies one window per second of audio.
    joules_per_notification: each non-background detection lights/buzzes a notifier (2 J).
    capacity_wh: the Jetbot pack of the paper's case study, 7200 mAh at 11.1 V (80 Wh).
    The per-window constants are ``WindowEnergy``'s (``window``). With these figures an 8-hour
    day drains roughly 25-30 %, matching the paper's Figure 13 (86 % -> 63 %).
    """

    capacity_wh: float = 80.0
    base_power_w: float = 2.5
    joules_per_mac: float = JOULES_PER_MAC
    joules_per_byte: float = JOULES_PER_BYTE
    active_power_w: float = ACTIVE_POWER_W
    windows_per_second: float = 1.0
    joules_per_notification: float = 2.0

    @property
    def window(self) -> WindowEnergy:
        return WindowEnergy(self.joules_per_mac, self.joules_per_byte, self.active_power_w)

    def inference_joules(self, macs: int, params_bytes: int, act_bytes: int,
                         latency_ms: float = 0.0) -> float:
        """One window of the configuration with these costs (``WindowEnergy.joules``)."""
        return self.window.joules(macs, params_bytes, act_bytes, latency_ms)
