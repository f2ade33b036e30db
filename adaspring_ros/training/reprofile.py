"""Re-measure the operator profile of an existing checkpoint, without retraining.

    python -m adaspring_ros.training.reprofile \
        [--checkpoint models/ubiear_supernet.pt] [--out models/]

Latency is a property of the machine, not of the weights: run this on the target (e.g. the
Jetbot) so Runtime3C predicts that machine's latency. Accuracy drops are re-measured on the
validation split the checkpoint was trained with (from its metadata). The weights are copied
unchanged; the profile inside the checkpoint and the JSON next to it are replaced.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.scene import dataset
from adaspring_ros.training import profile_operators as po
from adaspring_ros.training.profile_operators import build_profile


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    parser.add_argument("--out", default=None, help="folder to write (default: in place)")
    parser.add_argument("--max-load", type=float, default=None,
                        help="wait for the 1-min load average to fall below this before timing")
    parser.add_argument("--max-wait", type=float, default=900.0, help="seconds to wait at most")
    po.add_profile_arguments(parser)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    loaded = ckpt.load(args.checkpoint)
    meta = dict(loaded.meta)
    try:
        val = dataset.checkpoint_split(meta, "val", progress=not args.no_progress)
    except dataset.DatasetError:
        parser.error("this checkpoint was trained on a user folder; re-run train_all instead")
    profile = build_profile(loaded.net, val, ckpt.CHECKPOINT_VERSION,
                            {"host": loaded.profile.meta.get("host", "")},
                            progress=not args.no_progress, max_load=args.max_load,
                            max_wait_s=args.max_wait, **po.profile_options(args))
    check = po.check_seeded(profile, loaded.net, val, int(meta["seed"]) + 1)
    profile.meta["val_spearman_predicted_vs_measured"] = round(check["spearman"], 4)
    profile.meta["reprofiled"] = True
    path = ckpt.save_with_profile(Path(args.out) if args.out else loaded.path.parent,
                                  loaded.net, profile, meta)
    backbone = profile.predict(ss.backbone_configuration(loaded.net.arch)).latency_ms
    print(f"[reprofile] {path}: backbone predicted {backbone:.3f} ms, val Spearman "
          f"{check['spearman']:.3f}, latency fit {profile.meta['latency_fit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
