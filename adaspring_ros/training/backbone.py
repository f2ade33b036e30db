"""Stage 1: the backbone, trained by ordinary back-propagation, then imported into the supernet.

The backbone is the paper's Table 2 shape (5 conv layers + GAP + classifier) with BatchNorm.
Training adds an L1 penalty on the BatchNorm scales (network slimming, Liu et al. 2017): the
learned |γ| of each channel is its importance, and import sorts every layer's channels by it,
so δ3's "keep the first w·C channels" keeps the channels training found most useful.

Import folds BatchNorm into the conv weights (see operators.py for why the supernet has none)
and permutes channels consistently (a layer's output order and the next layer's input order;
a residual layer and its input share one order), which leaves the backbone's function
unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.operators import fold_batchnorm
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet
from adaspring_ros.core.scene.dataset import FeatureSet
from adaspring_ros.training import common
from adaspring_ros.training.common import ThreadTuner, accuracy, run_epoch, warmup_cosine


#: Stochastic depth (Huang et al. 2016) of the residual backbone: each residual layer's body
#: is dropped for a training sample with this probability (per sample, no rescaling), so the
#: network also works with the layer removed, which is what δ4's identity skip deploys.
DROP_DEPTH = 0.2


class BackboneNet(nn.Module):
    """conv3x3-BN-ReLU(-maxpool) x N, global average pooling, linear classifier.

    With ``arch.residual``, a residual layer computes relu(bn(conv(x)) + x) (then pools), and
    in training its body is dropped per sample with probability ``drop_depth``.
    """

    def __init__(self, arch: ss.Architecture, drop_depth: float = DROP_DEPTH):
        super().__init__()
        self.arch = arch
        self.drop_depth = drop_depth
        self.convs = nn.ModuleList(
            nn.Conv2d(s.in_channels, s.out_channels, 3, padding=1, bias=False)
            for s in arch.layers)
        self.bns = nn.ModuleList(nn.BatchNorm2d(s.out_channels) for s in arch.layers)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(arch.layers[-1].out_channels, arch.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (conv, bn, spec) in enumerate(zip(self.convs, self.bns, self.arch.layers,
                                                 strict=True)):
            if self.arch.is_residual(i):
                body = bn(conv(x))
                if self.training and self.drop_depth > 0:
                    keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop_depth
                    body = body * keep.to(body.dtype)
                x = F.relu(body + x)
            else:
                x = F.relu(bn(conv(x)))
            if spec.pool:
                x = F.max_pool2d(x, 2)
        return self.fc(self.dropout(x.mean(dim=(2, 3))))


def train_backbone(arch: ss.Architecture, train: FeatureSet, val: FeatureSet, epochs: int,
                   gen: torch.Generator, lr: float = 3e-3, batch_size: int = 64,
                   slimming_l1: float = 1e-4, progress: bool = True,
                   drop_depth: float = DROP_DEPTH) -> tuple[BackboneNet, dict]:
    """Train with AdamW + one-cycle LR; keep the epoch with the best validation accuracy."""
    model = BackboneNet(arch, drop_depth).to(common.DEVICE)
    x, y = train.tensors()
    batch_size = min(batch_size, x.shape[0])
    steps = max(1, epochs * (x.shape[0] // batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = warmup_cosine(opt, steps, warmup_fraction=0.2)
    best_acc, best_state, history = -1.0, None, []
    tuner = ThreadTuner()

    def step(xb, yb):
        loss = F.cross_entropy(model(xb), yb, label_smoothing=0.05)
        loss_l1 = slimming_l1 * sum(bn.weight.abs().sum() for bn in model.bns)
        opt.zero_grad(set_to_none=True)
        (loss + loss_l1).backward()
        opt.step()
        sched.step()
        return float(loss.detach()), len(yb)

    bar = tqdm(range(epochs), desc="backbone", unit="epoch", disable=not progress)
    for _ in bar:
        model.train()
        train_loss = run_epoch(x, y, batch_size, gen, tuner, step)
        model.eval()
        val_acc = accuracy(model, val)
        history.append({"train_loss": train_loss, "val_accuracy": val_acc})
        bar.set_postfix(loss=f"{train_loss:.3f}", val=f"{val_acc:.1f}%", thr=tuner.current)
        if val_acc > best_acc:
            best_acc = val_acc
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    model.to("cpu")
    return model, {"best_val_accuracy": best_acc, "epochs": history,
                   "threads": tuner.summary()}


def channel_importance(model: BackboneNet) -> list[torch.Tensor]:
    """Learned importance of every channel of every layer: |γ| of its BatchNorm.

    A residual layer's output channel c is its input channel c plus its body's, so the two
    layers must keep one channel order: both get the sum of their |γ| (a chain of residual
    layers, the sum over the chain).
    """
    imps = [bn.weight.detach().abs() for bn in model.bns]
    arch = model.arch
    for i in range(len(imps) - 1, 0, -1):
        if arch.is_residual(i):
            imps[i - 1] = imps[i - 1] + imps[i]
    for i in range(1, len(imps)):
        if arch.is_residual(i):
            imps[i] = imps[i - 1]
    return imps


@torch.no_grad()
def import_backbone(net: SelfEvolutionaryNet, model: BackboneNet) -> list[list[int]]:
    """Fold BN, sort channels by importance, write the backbone into the supernet.

    Returns each layer's channel order (new position -> original channel) for the record.
    """
    orders = [torch.argsort(imp, descending=True, stable=True)
              for imp in channel_importance(model)]
    folded = [fold_batchnorm(conv.weight, conv.bias, bn)
              for conv, bn in zip(model.convs, model.bns, strict=True)]
    prev = torch.arange(1)
    for i, ((w, b), order) in enumerate(zip(folded, orders, strict=True)):
        w = w[order][:, prev]
        b = b[order]
        if i == 0:
            net.stem_w.copy_(w)
            net.stem_b.copy_(b)
        else:
            net.layers[i - 1].conv_w.copy_(w)
            net.layers[i - 1].conv_b.copy_(b)
        prev = order
    net.head_w.copy_(model.fc.weight[:, prev])
    net.head_b.copy_(model.fc.bias)
    net.width_log_sigma.fill_(math.log(0.05))
    return [o.tolist() for o in orders]
