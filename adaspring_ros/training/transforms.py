"""Stage 2: function-preserving initialisation of the δ1, δ2 and δ4 weights from the backbone.

Each operator starts as the best approximation of the backbone layer it replaces (paper §4.2,
"parameter transformation"), so most of its accuracy is there before any training:

- svd@ (δ2): truncated SVD of the 3x3 kernel as a (C_out, C_in*9) matrix: rank-r basis conv
  (sqrt(S)·Vᵀ) and a 1x1 mixing conv (U·sqrt(S)) keeping the backbone bias. Data-free.
- dws@ (δ2): for each input channel, the rank-1 SVD of its (C_out, 9) kernel slice gives the
  depthwise 3x3 filter and that channel's pointwise column. Exact when every slice is rank 1.
- fire@ (δ1): a least-squares fit on calibration activations. The squeeze is the rank-s input
  projection that minimises the conv output's error: the top right singular vectors of
  [W_1; ...; W_9]·C^{1/2} mapped back through C^{-1/2} (C = input second moment). Its bias
  lifts 99 % of the squeezed calibration values above zero, so the ReLU is (almost) the
  identity; the 1x1 and 3x3 expands of every output channel are ridge regressions onto the
  backbone's pre-activation. (A non-negative squeeze, exact at the zero-padded border, was
  measured and lost more accuracy.)
- skip (δ4 adapter): the 1x1 conv (ridge regression) that best reproduces the layer's
  pre-activation from its input at the same pixel.

Fits use the full input width; narrower inputs (δ3 upstream) are left to distillation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet

#: Pixels per least-squares fit; more adds time, not accuracy.
MAX_FIT_PIXELS = 120_000
RIDGE = 1e-3
#: Share of squeezed values the Fire squeeze ReLU may clip (measured: 1 % beats 0 % and 5 %).
SQUEEZE_CLIP_QUANTILE = 0.01


@torch.no_grad()
def svd_factors(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(basis (r, C_in, 3, 3), mix (C_out, r, 1, 1)) with mix * basis ~= weight."""
    cout, cin = weight.shape[:2]
    u, s, vh = torch.linalg.svd(weight.reshape(cout, cin * 9), full_matrices=False)
    root = s[:rank].sqrt()
    basis = (root.reshape(-1, 1) * vh[:rank]).reshape(rank, cin, 3, 3)
    mix = (u[:, :rank] * root).reshape(cout, rank, 1, 1)
    return basis, mix


@torch.no_grad()
def depthwise_separable_factors(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(depthwise (C_in, 1, 3, 3), pointwise (C_out, C_in, 1, 1)), one rank-1 SVD per input."""
    cout, cin = weight.shape[:2]
    per_input = weight.permute(1, 0, 2, 3).reshape(cin, cout, 9)
    u, s, vh = torch.linalg.svd(per_input, full_matrices=False)
    root = s[:, 0].sqrt()
    depthwise = (root.reshape(-1, 1) * vh[:, 0, :]).reshape(cin, 1, 3, 3)
    pointwise = (u[:, :, 0] * root.reshape(-1, 1)).T.reshape(cout, cin, 1, 1)
    return depthwise, pointwise


def _ridge(features: torch.Tensor, targets: torch.Tensor, ridge: float = RIDGE) -> torch.Tensor:
    """Solve min ||features·A - targets||² + ridge·scale·||A||², features (n, d) with bias col."""
    f = features.double()
    gram = f.T @ f
    scale = gram.diagonal().mean()
    gram = gram + ridge * scale * torch.eye(gram.shape[0], dtype=gram.dtype)
    return torch.linalg.solve(gram, f.T @ targets.double()).float()


def _pixels(t: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N*H*W, C)."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def _with_bias(f: torch.Tensor) -> torch.Tensor:
    return torch.cat((f, torch.ones(f.shape[0], 1, dtype=f.dtype)), dim=1)


def _subsample(n: int, gen: torch.Generator) -> torch.Tensor:
    if n <= MAX_FIT_PIXELS:
        return torch.arange(n)
    return torch.randperm(n, generator=gen)[:MAX_FIT_PIXELS]


@torch.no_grad()
def fire_factors(weight: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, squeeze: int,
                 gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Squeeze/expand weights approximating conv(weight) on the calibration ``inputs``."""
    cout, cin = weight.shape[:2]
    x_pix = _pixels(inputs).double()
    second_moment = x_pix.T @ x_pix / x_pix.shape[0]
    evals, evecs = torch.linalg.eigh(second_moment)
    evals = evals.clamp_min(1e-4 * float(evals.max()))
    c_half = evecs @ torch.diag(evals.sqrt()) @ evecs.T
    c_inv_half = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    taps = weight.double().permute(2, 3, 0, 1).reshape(9 * cout, cin)
    _, _, vh = torch.linalg.svd(taps @ c_half, full_matrices=False)
    squeeze_w = (vh[:squeeze] @ c_inv_half).float()  # (min(s, cin), cin)
    if squeeze > squeeze_w.shape[0]:
        # more squeeze channels than input channels: the extra ones start as negated copies
        # of the leading directions (redundant but alive; zero rows would never train)
        extra = squeeze - squeeze_w.shape[0]
        squeeze_w = torch.cat([squeeze_w, -squeeze_w[torch.arange(extra) % cin]])
    z = F.conv2d(inputs, squeeze_w.reshape(squeeze, cin, 1, 1))
    # Orient each squeeze direction so most of its values are positive, then lift by a low
    # quantile: the smaller the lift, the smaller the error zero padding makes at the border
    # (padding zeros in z stand for x = "minus the lift"), at the price of clipping ~1 %.
    z_pix = _pixels(z)
    sign = torch.where(z_pix.median(dim=0).values >= 0, 1.0, -1.0)
    squeeze_w = squeeze_w * sign.reshape(-1, 1)
    z, z_pix = z * sign.reshape(1, -1, 1, 1), z_pix * sign
    sample = z_pix[_subsample(z_pix.shape[0], gen)]
    squeeze_b = -torch.quantile(sample, SQUEEZE_CLIP_QUANTILE, dim=0).clamp_max(0.0)
    z = F.relu(z + squeeze_b.reshape(1, -1, 1, 1))
    y = _pixels(targets)
    pick = _subsample(y.shape[0], gen)
    e1 = _ridge(_with_bias(_pixels(z)[pick]), y[pick])  # (s+1, cout)
    cols = F.unfold(z, 3, padding=1)  # (N, s*9, H*W)
    cols = cols.permute(0, 2, 1).reshape(-1, squeeze * 9)
    e3 = _ridge(_with_bias(cols[pick]), y[pick])  # (s*9+1, cout)
    return {
        "fire_squeeze_w": squeeze_w.reshape(squeeze, cin, 1, 1),
        "fire_squeeze_b": squeeze_b,
        "fire_e1_w": e1[:-1].T.reshape(cout, squeeze, 1, 1),
        "fire_e1_b": e1[-1],
        "fire_e3_w": e3[:-1].T.reshape(cout, squeeze, 3, 3),
        "fire_e3_b": e3[-1],
    }


@torch.no_grad()
def adapter_factors(inputs: torch.Tensor, targets: torch.Tensor,
                    gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """1x1 conv (weight, bias) reproducing ``targets`` from ``inputs`` pixel by pixel."""
    x, y = _pixels(inputs), _pixels(targets)
    pick = _subsample(y.shape[0], gen)
    a = _ridge(_with_bias(x[pick]), y[pick])
    return a[:-1].T.reshape(y.shape[1], x.shape[1], 1, 1), a[-1]


@torch.no_grad()
def layer_io(net: SelfEvolutionaryNet, x: torch.Tensor):
    """(input, pre-activation) of every compressible layer under the backbone configuration;
    in a residual layer the body's (the input is added back after every operator)."""
    out = []
    h = net.stem(x)
    for layer in net.layers:
        pre = layer.body(h, ss.UNCOMPRESSED)
        out.append((h, pre))
        h = layer(h, ss.UNCOMPRESSED)
    return out


@torch.no_grad()
def initialise_operators(net: SelfEvolutionaryNet, calibration: torch.Tensor,
                         gen: torch.Generator) -> None:
    """Fill every compressible layer's δ1/δ2/δ4 tensors from its (imported) backbone conv."""
    arch = net.arch
    for layer, (inputs, targets) in zip(net.layers, layer_io(net, calibration), strict=True):
        cout = layer.spec.out_channels
        w, b = layer.conv_w.detach(), layer.conv_b.detach()
        basis, mix = svd_factors(w, ss.scaled(cout, arch.svd_rank_ratio))
        layer.svd_basis_w.copy_(basis)
        layer.svd_mix_w.copy_(mix)
        layer.svd_mix_b.copy_(b)
        depthwise, pointwise = depthwise_separable_factors(w)
        layer.dws_depthwise_w.copy_(depthwise)
        layer.dws_pointwise_w.copy_(pointwise)
        layer.dws_pointwise_b.copy_(b)
        fire = fire_factors(w, inputs, targets, ss.scaled(cout, arch.fire_squeeze_ratio), gen)
        for name, value in fire.items():
            getattr(layer, name).copy_(value)
        skip_w, skip_b = adapter_factors(inputs, targets, gen)
        layer.skip_w.copy_(skip_w)
        layer.skip_b.copy_(skip_b)
