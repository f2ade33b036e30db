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
import json
import sys
from pathlib import Path

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.scene import dataset
from adaspring_ros.training import profile_operators as po
from adaspring_ros.training.profile_operators import (
    build_profile,
    check_accuracy_model,
    sample_configurations,
)


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
    if not str(meta.get("data", "")).startswith("synthetic"):
        parser.error("this checkpoint was trained on a user folder; re-run train_all instead")
    val = dataset.synthetic_split("val", int(meta["seed"]), int(meta["data_sizes"]["val"]),
                                  progress=not args.no_progress)
    profile = build_profile(loaded.net, val, ckpt.CHECKPOINT_VERSION,
                            {"host": loaded.profile.meta.get("host", "")},
                            progress=not args.no_progress, max_load=args.max_load,
                            max_wait_s=args.max_wait, latency_repeats=args.latency_repeats,
                            latency_rounds=args.latency_rounds, fit_configs=args.fit_configs,
                            accuracy_configs=args.accuracy_configs,
                            latency_threads=args.latency_threads)
    check = check_accuracy_model(profile, loaded.net, val,
                                 sample_configurations(loaded.net.arch, 40, int(meta["seed"]) + 1))
    profile.meta["val_spearman_predicted_vs_measured"] = round(check["spearman"], 4)
    profile.meta["reprofiled"] = True
    out = Path(args.out) if args.out else loaded.path.parent
    path = ckpt.save(out / ckpt.CHECKPOINT_NAME, loaded.net, profile, meta)
    (out / ckpt.PROFILE_NAME).write_text(json.dumps(profile.to_dict(), indent=1) + "\n")
    backbone = profile.predict(ss.backbone_configuration(loaded.net.arch)).latency_ms
    print(f"[reprofile] {path}: backbone predicted {backbone:.3f} ms, val Spearman "
          f"{check['spearman']:.3f}, latency fit {profile.meta['latency_fit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
