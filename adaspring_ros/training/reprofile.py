"""Re-measure the operator profile of an existing checkpoint, without retraining.

    python -m adaspring_ros.training.reprofile \
        [--checkpoint models/ubiear_supernet.pt] [--out models/] [--accuracy-only]

Latency is a property of the machine, not of the weights: run this on the target (e.g. the
Jetbot) so Runtime3C predicts that machine's latency. Accuracy drops are re-measured on the
validation split the checkpoint was trained with (from its metadata). The weights are copied
unchanged; the profile inside the checkpoint and the JSON next to it are replaced.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.scene import dataset
from adaspring_ros.training import accuracy_model
from adaspring_ros.training import profile_operators as po
from adaspring_ros.training.profile_operators import build_profile


def refit_accuracy(loaded, calibration, args):
    """The checkpoint's profile with its accuracy table refitted and its latency table kept."""
    base, drops, single_drops, fit = accuracy_model.calibrate(
        loaded.net, calibration, n_configs=args.accuracy_configs, progress=not args.no_progress,
        selection_z=args.selection_z)
    meta = {**loaded.profile.meta, "accuracy_fit": fit, "accuracy_clips": len(calibration),
            "accuracy_drop_single": {str(k): v for k, v in single_drops.items()}}
    return dataclasses.replace(loaded.profile, backbone_accuracy=base, accuracy_drop=drops,
                               meta=meta)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    parser.add_argument("--out", default=None, help="folder to write (default: in place)")
    parser.add_argument("--max-load", type=float, default=None,
                        help="wait for the 1-min load average to fall below this before timing")
    parser.add_argument("--max-wait", type=float, default=900.0, help="seconds to wait at most")
    parser.add_argument("--accuracy-only", action="store_true",
                        help="refit the accuracy table only; keep the latency table (which is "
                             "the machine's) as it is")
    po.add_profile_arguments(parser)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    po.set_device(parser, args)
    loaded = ckpt.load(args.checkpoint)
    meta = dict(loaded.meta)
    try:
        val = dataset.checkpoint_split(meta, "val", progress=not args.no_progress)
    except dataset.DatasetError:
        parser.error("this checkpoint was trained on a user folder; re-run train_all instead")
    calibration = accuracy_model.calibration_set(val, int(meta["seed"]),
                                                 progress=not args.no_progress)
    if args.accuracy_only:
        profile = refit_accuracy(loaded, calibration, args)
    else:
        profile = build_profile(loaded.net, val, ckpt.CHECKPOINT_VERSION,
                                {"host": loaded.profile.meta.get("host", "")},
                                progress=not args.no_progress, max_load=args.max_load,
                                max_wait_s=args.max_wait, calibration=calibration,
                                **po.profile_options(args))
    check = po.check_seeded(profile, loaded.net, val, int(meta["seed"]) + 1)
    rho = check["spearman"]
    profile.meta["val_spearman_predicted_vs_measured"] = round(rho, 4) if rho == rho else None
    profile.meta["reprofiled"] = True
    path = ckpt.save_with_profile(Path(args.out) if args.out else loaded.path.parent,
                                  loaded.net, profile, meta)
    backbone = profile.predict(ss.backbone_configuration(loaded.net.arch)).latency_ms
    print(f"[reprofile] {path}: backbone predicted {backbone:.3f} ms, val Spearman "
          f"{check['spearman']:.3f}, latency fit {profile.meta['latency_fit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
