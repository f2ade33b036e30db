"""Stage 3: ensemble training of the operator-variants by knowledge distillation (paper §4.2).

The teacher is the imported backbone, frozen (a deployed copy taken before this stage). Each
mini-batch trains, on the same augmented input (sandwich rule, Yu & Huang 2019; in-place
distillation as in once-for-all):

- the backbone configuration (KD + cross-entropy), so the shared δ3 tensors keep serving it;
- the smallest δ3 configuration (conv@0.25 everywhere) and one random δ3-only configuration
  (a random width per layer): uniform sampling over all 17 options gives pure-δ3 networks,
  the ones that share the backbone's tensors, too few updates (measured: conv@0.5 everywhere
  lost 3.2 pp after 6 epochs without this pass);
- ``n_mid_width`` δ3-only configurations with every layer at 0.5-1.0 width
  (`mid_width_configuration`), the region a draining battery deploys;
- ``n_random`` configurations drawn uniformly from the whole search space, which is how δ4
  adapters, narrow inputs and the δ1/δ2 operators that need fine-tuning get their gradients;
- ``n_family`` configurations that mix one δ1/δ2/δ4 structure with plain convolutions
  (`family_configuration`), the shape of what the search deploys (one operator family plus
  δ3): uniform draws almost never put a fire/svd/dws/skip layer between full-width convs, so
  those operators were trained for contexts the search never picks, and an identity skip (which
  needs the previous layer at full width) hardly ever ran;
- with a residual backbone (``Architecture.residual``), one `depth_configuration`: residual
  layers removed at random among δ3 widths, the identity skips the search can deploy;
- one noisy δ3 pass (`SelfEvolutionaryNet.noisy_forward`) whose KD loss, minus a reward of
  ``noise_reward`` per unit of log σ, trains each layer's width-noise magnitude. With
  ``Architecture.per_channel_noise`` there is one σ per channel; the pass then cuts each
  sample at its own width drawn uniformly in [0, 1] (not on the 0.25 grid, so every channel
  sits at the cut now and then: with [0.25, 1] the first quarter never did, got only the
  reward and rose to the bound of what the run allowed) and the reward is each layer's mean log σ
  (`SelfEvolutionaryNet.noise_log_reward`), so the σ of channels whose removal the KD loss
  feels (the important ones, first in the order) is pulled down and the rest drift up.

δ1/δ2 weights are only fine-tuned for (layer, structure) pairs whose transformed weights fall
short of the accuracy target (decided by the caller); the rest stay frozen as transformed.
Gradients are clipped by norm (the paper's gradient normalisation against interference).
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from tqdm import tqdm

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet
from adaspring_ros.core.scene.dataset import FeatureSet
from adaspring_ros.training import common
from adaspring_ros.training.common import ThreadTuner, run_epoch, warmup_cosine

TEMPERATURE = 2.0
#: log σ needs to travel ~1 unit within a few hundred steps; the weights must barely move.
NOISE_LR_FACTOR = 20.0


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, t: float = TEMPERATURE) -> torch.Tensor:
    """Hinton distillation loss (KL at temperature t, scaled by t²)."""
    return F.kl_div(F.log_softmax(student / t, dim=1), F.softmax(teacher / t, dim=1),
                    reduction="batchmean") * t * t


#: The structures a family draw focuses on (δ1, δ2 and δ4).
FAMILY_STRUCTURES: tuple[str, ...] = ("fire", "svd", "dws", ss.SKIP)


def family_configuration(arch: ss.Architecture, rng: random.Random,
                         share: float = 0.5) -> ss.Configuration:
    """One δ1/δ2/δ4 structure (drawn uniformly) at a share of the layers, plain convs elsewhere.

    Each layer takes the structure (at a random width) with probability ``share``; the other
    layers are conv@1.0 half of the time and conv at a random width otherwise.
    """
    structure = rng.choice(FAMILY_STRUCTURES)
    ops = []
    for _ in range(arch.n_compressible):
        if rng.random() < share:
            ops.append(ss.SKIP if structure == ss.SKIP
                       else ss.option_id(structure, rng.choice(ss.WIDTHS)))
        elif rng.random() < 0.5:
            ops.append(ss.UNCOMPRESSED)
        else:
            ops.append(ss.option_id("conv", rng.choice(ss.WIDTHS)))
    return tuple(ops)


#: The widths `mid_width_configuration` draws from: the battery sweep's floor within 2 pp sits at
#: 0.5-0.75 in layers 1-3 (with 0.25 in layer 4, which the smallest pass already trains).
MID_WIDTHS: tuple[float, ...] = (1.0, 0.75, 0.5)


def mid_width_configuration(arch: ss.Architecture, rng: random.Random) -> ss.Configuration:
    """A δ3-only configuration with every layer at 0.5, 0.75 or full width.

    Why: the uniform width draw gives a quarter of its layers width 0.25, so networks at
    0.5-0.75 in most layers, the ones a draining battery deploys, got few updates of their own.
    Measured (battery sweep of benchmarks/bench_runtime3c.py, A_thr 2 pp): the issue 14
    checkpoint stopped at 2.42 mJ, 2.64x below the backbone; trained with one such draw per
    batch, 1.65 mJ, 3.90x, though that choice lost 2.41 pp held out against 2.00 predicted. A
    draw at 0.25-0.75 (tried, not shipped: the training README says why) gave 3.35x.
    """
    return tuple(ss.option_id("conv", rng.choice(MID_WIDTHS))
                 for _ in range(arch.n_compressible))


def depth_configuration(arch: ss.Architecture, rng: random.Random) -> ss.Configuration | None:
    """Stochastic depth in distillation (residual backbones; None without residual layers):
    each residual layer removed (identity skip) with probability 1/2, at least one; the other
    layers are convs at full width half of the time, at a random width otherwise, so the
    identity skips are trained in the narrow networks the search deploys."""
    residual = [i for i in range(1, arch.n_compressible + 1) if arch.is_residual(i)]
    if not residual:
        return None
    removed = {i for i in residual if rng.random() < 0.5} or {rng.choice(residual)}
    ops = []
    for i in range(1, arch.n_compressible + 1):
        if i in removed:
            ops.append(ss.SKIP)
        elif rng.random() < 0.5:
            ops.append(ss.UNCOMPRESSED)
        else:
            ops.append(ss.option_id("conv", rng.choice(ss.WIDTHS)))
    return tuple(ops)


def set_trainable(net: SelfEvolutionaryNet, fine_tune: set[tuple[int, str]]) -> list:
    """Freeze the δ1/δ2 weights not listed in ``fine_tune`` ((layer, structure) pairs)."""
    params = [net.stem_w, net.stem_b, net.head_w, net.head_b]
    for i, layer in enumerate(net.layers, start=1):
        for structure in ("conv", ss.SKIP, "fire", "svd", "dws"):
            trainable = structure in ("conv", ss.SKIP) or (i, structure) in fine_tune
            for p in layer.structure_parameters(structure):
                p.requires_grad_(trainable)
                if trainable:
                    params.append(p)
    return params


def train_supernet(net: SelfEvolutionaryNet, train: FeatureSet, epochs: int,
                   gen: torch.Generator, fine_tune: set[tuple[int, str]], lr: float = 1e-3,
                   batch_size: int = 64, n_random: int = 1, n_family: int = 1,
                   n_mid_width: int = 1,
                   noise_reward: float = 2e-2, ce_weight: float = 0.3,
                   progress: bool = True) -> dict:
    """Distil every operator-variant from the frozen backbone; returns a training log."""
    arch = net.arch
    net.to(common.DEVICE)
    teacher = net.get_active_subnet(ss.backbone_configuration(arch))
    weights = set_trainable(net, fine_tune)
    opt = torch.optim.AdamW([{"params": weights, "weight_decay": 1e-5},
                             {"params": [net.width_log_sigma], "weight_decay": 0.0,
                              "lr": NOISE_LR_FACTOR * lr}], lr=lr)
    x, y = train.tensors()
    batch_size = min(batch_size, x.shape[0])
    steps = max(1, epochs * (x.shape[0] // batch_size))
    sched = warmup_cosine(opt, steps, warmup_fraction=0.1)
    rng = random.Random(int(torch.randint(0, 2**31, (1,), generator=gen)))
    backbone = ss.backbone_configuration(arch)
    smallest = ("conv@0.25",) * arch.n_compressible

    def step(xb, yb):
        with torch.no_grad():
            target = teacher(xb)
        logits = net(xb, backbone)
        loss = F.cross_entropy(logits, yb) + kd_loss(logits, target)
        widths_only = tuple(ss.option_id("conv", rng.choice(ss.WIDTHS))
                            for _ in range(arch.n_compressible))
        randoms = [ss.random_configuration(arch, rng) for _ in range(n_random)]
        randoms += [mid_width_configuration(arch, rng) for _ in range(n_mid_width)]
        randoms += [family_configuration(arch, rng) for _ in range(n_family)]
        depth = depth_configuration(arch, rng)
        if depth is not None:
            randoms.append(depth)
        for config in [smallest, widths_only] + randoms:
            logits = net(xb, config)
            loss = loss + kd_loss(logits, target) + ce_weight * F.cross_entropy(logits, yb)
        if arch.per_channel_noise:  # every channel at the cut now and then, the first ones too
            widths = [torch.rand(xb.shape[0], device=xb.device)
                      for _ in range(arch.n_compressible)]
        else:
            widths = [rng.choice(ss.WIDTHS) for _ in range(arch.n_compressible)]
        noisy = net.noisy_forward(xb, widths)
        loss = loss + kd_loss(noisy, target) - noise_reward * net.noise_log_reward()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(weights, 5.0)
        opt.step()
        sched.step()
        return float(loss.detach()), 1

    tuner = ThreadTuner()
    log = {"epochs": [], "fine_tuned": sorted(map(list, fine_tune))}
    bar = tqdm(range(epochs), desc="distil", unit="epoch", disable=not progress)
    for _ in bar:
        net.train()
        loss = run_epoch(x, y, batch_size, gen, tuner, step)
        noise = net.channel_noise()
        log["epochs"].append({"loss": loss, "channel_noise": noise})
        means = (sum(v) / len(v) if isinstance(v, list) else v for v in noise.values())
        bar.set_postfix(loss=f"{loss:.3f}", thr=tuner.current,
                        sigma=",".join(f"{v:.2f}" for v in means))
    log["threads"] = tuner.summary()
    net.eval()
    net.to("cpu")
    for p in net.parameters():
        p.requires_grad_(True)
    return log
