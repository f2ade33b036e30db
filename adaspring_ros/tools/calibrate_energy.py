"""Calibrate the energy model's active power on a Jetson from jetson-stats' power rails.

    python -m adaspring_ros.tools.calibrate_energy [--config OP OP OP OP] [--idle-s 10]
                                                   [--busy-s 20] [--checkpoint PATH]

Measures the board idle, then while one configuration's subnet classifies windows back to
back (batch 1, one torch thread as the inference node runs it), and solves
E_window = C·e_mac + (Sp + Sa)·e_byte + T·P_active for P_active with the measured T
(``core.model.energy.calibrated_active_power``). Stores the result for this machine in the
user's cache folder (core/model/energy_calibration), where the evolution node reads it at start
(``active_power_source: auto``) and prices every window with it; prints it too, for a YAML
(``active_power_w``, with ``active_power_source: parameter``). Run it with the graph stopped:
the idle reading must be idle. Where no rail is readable (not a Jetson, or the jtop service is
down) it says why and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from adaspring_ros.core.context.power_rails import JetsonPower, PowerUnavailable, measure
from adaspring_ros.core.model import energy_calibration
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy, calibrated_active_power


def _window_runner(checkpoint: str | None, config: tuple[str, ...] | None):
    """(callable classifying one random 1 s window, architecture, configuration run);
    ``config`` None runs the backbone."""
    import torch

    from adaspring_ros.core.model import checkpoint as ckpt

    torch.set_num_threads(1)
    net = ckpt.load(checkpoint).net
    config = (ss.backbone_configuration(net.arch) if config is None
              else ss.validate_configuration(net.arch, config))
    subnet = net.get_active_subnet(config)
    window = torch.rand(1, 1, net.arch.n_mels, net.arch.n_frames)

    def run() -> None:
        with torch.inference_mode():
            subnet(window)

    return run, net.arch, config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", default=None,
                        help="operator ids, one per compressible layer (default: the backbone)")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--busy-s", type=float, default=20.0)
    parser.add_argument("--joules-per-mac", type=float, default=WindowEnergy().joules_per_mac)
    parser.add_argument("--joules-per-byte", type=float,
                        default=WindowEnergy().joules_per_byte)
    parser.add_argument("--no-save", action="store_true",
                        help="print only; do not store the result for the nodes")
    args = parser.parse_args(argv)
    try:
        power = JetsonPower()
    except PowerUnavailable as exc:
        print(f"cannot calibrate here: {exc}", file=sys.stderr)
        return 2
    try:
        run, arch, config = _window_runner(args.checkpoint,
                                           tuple(args.config) if args.config else None)
        return _report(power, run, arch, config, args)
    finally:
        power.close()


def _report(power, run, arch, config, args) -> int:
    cost = ss.configuration_cost(arch, config)
    m = measure(power.read_watts, run, idle_s=args.idle_s, busy_s=args.busy_s)
    window = WindowEnergy(args.joules_per_mac, args.joules_per_byte, 0.0)
    p_active = calibrated_active_power(window, busy_power_w=m.busy_w, idle_power_w=m.idle_w,
                                       macs=cost.macs, params_bytes=cost.params_bytes,
                                       act_bytes=cost.act_bytes, latency_ms=m.latency_ms)
    per_window_mj = (m.busy_w - m.idle_w) * m.latency_ms
    print(f"idle {m.idle_w:.3f} W, busy {m.busy_w:.3f} W over {m.windows} windows of "
          f"{m.latency_ms:.3f} ms ({m.samples[0]} + {m.samples[1]} rail readings, "
          f"{power.rail_name()})")
    print(f"measured energy per window {per_window_mj:.3f} mJ; [{' '.join(config)}]")
    print(f"active_power_w: {p_active:.4f}   # evolution node, config/sound_assistant.yaml")
    if not args.no_save:
        cal = energy_calibration.Calibration(
            p_active, m.idle_w, m.busy_w, m.latency_ms, m.windows, per_window_mj, tuple(config),
            power.rail_name(), energy_calibration.this_machine(), energy_calibration.utc_now())
        where = energy_calibration.save(cal)
        print(f"stored for the evolution node (active_power_source: auto): {where}" if where
              else "could not store it (cache folder not writable); set active_power_w")
    return 0


if __name__ == "__main__":
    sys.exit(main())
