"""The compression operators as torch modules: elastic (training) and deployed (run time).

Every compressible conv layer owns one `ElasticLayer` holding the full-size tensors of all its
operator choices (``search_space.OPTIONS``):

- ``conv@w`` (backbone conv; δ3 at w < 1): the first round(w*C_out) output channels of the
  backbone's 3x3 conv. Training orders channels by learned importance, so slicing keeps the
  most useful ones and scaling back up is just a wider slice.
- ``fire@w`` (δ1): squeeze 1x1 (C_in -> s) + ReLU, then expand: 3x3 for the first
  cw - cw//2 output channels and 1x1 for the other cw//2, concatenated (checkpoints from before
  issue 14, ``Architecture.fire_3x3_first`` False, put the 1x1 half first). Channels are ordered
  by importance, so the spatial 3x3 kernels now serve the channels that matter most. Each
  output channel stores BOTH a 1x1 and a 3x3 expand kernel, so any width can split its
  channels 1x1/3x3 as the Fire block prescribes while sharing tensors across widths.
- ``svd@w`` (δ2): 3x3 conv to rank r (no bias), then 1x1 to the outputs (truncated SVD).
- ``dws@w`` (δ2): depthwise 3x3 (no bias), then pointwise 1x1 (per-input-channel rank-1 SVD).
- ``skip`` (δ4): identity when the channel count is unchanged, else a 1x1 adapter + ReLU.

Residual layers (``Architecture.residual``, a layer with C_in == C_out): every operator above
is the layer's body and the input is added before ReLU and pooling, relu(pool(body(x) + x)),
so an identity skip, pool(x), is that layer with its body removed, which the backbone's
stochastic depth trains for.

Inputs are always sliced to the first C_in channels, the previous layer's width. A layer's
output goes through ReLU and the layer's 2x2 max-pool (if it pools), whatever the operator;
they are computed pool-first, which is exact and cheaper (see `_finish_`).

BatchNorm: none. The backbone is trained with BatchNorm, which is then folded into each conv's
weight and bias before any operator is derived, so every operator-variant is an affine conv
with one bias per output channel. With no running statistics anywhere, switching between
configurations needs no recalibration at run time and the deployed parameter counts equal
`search_space.layer_cost` exactly. The cost of the decision is that δ3/δ4 must absorb the
distribution shift of a narrower input through training (knowledge distillation), which is
measured in the profile's accuracy drops.

Deployed blocks (`ConvBlock`, `FireBlock`, ...) hold contiguous copies of the slices as frozen
parameters, so a built subnet runs without touching (or keeping alive) the supernet.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adaspring_ros.core.model import search_space as ss


def _frozen(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor.detach().clone().contiguous(), requires_grad=False)


def fold_batchnorm(weight: torch.Tensor, bias: torch.Tensor | None,
                   bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Conv weight and bias equivalent to conv followed by ``bn`` in eval mode."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    base = torch.zeros_like(bn.running_mean) if bias is None else bias.detach()
    folded_w = weight.detach() * scale.reshape(-1, 1, 1, 1)
    folded_b = (base - bn.running_mean) * scale + bn.bias.detach()
    return folded_w, folded_b


def _finish(y: torch.Tensor, pool: bool) -> torch.Tensor:
    """ReLU then 2x2 max-pool, computed as pool then ReLU: the two commute exactly (both are
    monotone), and the ReLU then touches 4x fewer values. Training path: autograd-safe."""
    return F.relu(F.max_pool2d(y, 2)) if pool else F.relu(y)


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """2x2/stride-2 max-pool (floor), bit-identical to ``F.max_pool2d(x, 2)``, for run time.

    Two elementwise maxima over strided views. Measured at batch 1, one thread (torch 2.13,
    x86): ``F.max_pool2d`` on NCHW takes 53 / 160 / 46 us on this network's 8x40x51, 80x20x25
    and 112x10x12 maps, this 13 / 22 / 14 us; it was 35-45 % of every deployed subnet's time,
    and more of the small ones', which compressed the latency span of the variants. Deployed
    blocks only: training keeps ``F.max_pool2d`` (whose gradient picks one winner on ties).
    """
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    rows = torch.maximum(x[..., 0:h:2, :w], x[..., 1:h:2, :w])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def _finish_(y: torch.Tensor, pool: bool) -> torch.Tensor:
    """The same for deployed blocks, with an in-place ReLU on the fresh output.

    Measured on these shared cores: ReLU on the full conv output before pooling made the stem
    take 0.25-17 ms under load (a multi-threaded elementwise pass over 33k values waits for a
    descheduled thread); pool first, then ReLU in place: 0.07-0.11 ms.
    """
    return F.relu_(max_pool_2x2(y)) if pool else F.relu_(y)


# --------------------------------------------------------------------------- deployed blocks
class ConvBlock(nn.Module):
    """3x3 conv (+bias) + ReLU (+ 2x2 max-pool): the backbone layer, or δ3 at width < 1."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, pool: bool):
        super().__init__()
        self.weight, self.bias, self.pool = _frozen(weight), _frozen(bias), pool

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _finish_(self.pre(x), self.pool)


class FireBlock(nn.Module):
    """δ1: squeeze 1x1 + ReLU, expand 1x1 and 3x3 concatenated, ReLU (+ pool)."""

    def __init__(self, squeeze_w, squeeze_b, e1_w, e1_b, e3_w, e3_b, pool: bool,
                 expand_3x3_first: bool = False):
        super().__init__()
        self.squeeze_w, self.squeeze_b = _frozen(squeeze_w), _frozen(squeeze_b)
        self.e1_w, self.e1_b = _frozen(e1_w), _frozen(e1_b)
        self.e3_w, self.e3_b = _frozen(e3_w), _frozen(e3_b)
        self.pool = pool
        self.expand_3x3_first = expand_3x3_first

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        z = F.relu_(F.conv2d(x, self.squeeze_w, self.squeeze_b))
        y3 = F.conv2d(z, self.e3_w, self.e3_b, padding=1)
        if self.e1_w.shape[0] == 0:
            return y3
        y1 = F.conv2d(z, self.e1_w, self.e1_b)
        return torch.cat((y3, y1) if self.expand_3x3_first else (y1, y3), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _finish_(self.pre(x), self.pool)


class LowRankBlock(nn.Module):
    """δ2 (SVD): 3x3 conv to rank r without bias, then 1x1 conv (+bias), ReLU (+ pool)."""

    def __init__(self, basis_w, mix_w, mix_b, pool: bool):
        super().__init__()
        self.basis_w, self.mix_w, self.mix_b = _frozen(basis_w), _frozen(mix_w), _frozen(mix_b)
        self.pool = pool

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        u = F.conv2d(x, self.basis_w, None, padding=1)
        return F.conv2d(u, self.mix_w, self.mix_b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _finish_(self.pre(x), self.pool)


class DepthwiseSeparableBlock(nn.Module):
    """δ2 (depthwise-separable): depthwise 3x3 without bias, pointwise 1x1 (+bias), ReLU."""

    def __init__(self, depthwise_w, pointwise_w, pointwise_b, pool: bool):
        super().__init__()
        self.depthwise_w = _frozen(depthwise_w)
        self.pointwise_w, self.pointwise_b = _frozen(pointwise_w), _frozen(pointwise_b)
        self.groups = int(depthwise_w.shape[0])
        self.pool = pool

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        d = F.conv2d(x, self.depthwise_w, None, padding=1, groups=self.groups)
        return F.conv2d(d, self.pointwise_w, self.pointwise_b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _finish_(self.pre(x), self.pool)


class AdapterBlock(nn.Module):
    """δ4 with a channel change: 1x1 conv (+bias) + ReLU standing in for the skipped layer."""

    def __init__(self, weight, bias, pool: bool):
        super().__init__()
        self.weight, self.bias, self.pool = _frozen(weight), _frozen(bias), pool

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _finish_(self.pre(x), self.pool)


class ResidualBlock(nn.Module):
    """A residual layer's operator (``Architecture.residual``): ``relu(pool(body(x) + x))``.

    The input is added to the first min(C_in, C_out) output channels (a layer and its residual
    input share one channel order, see `training.backbone.import_backbone`).
    """

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body
        self.pool = body.pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body.pre(x)
        k = min(y.shape[1], x.shape[1])
        y[:, :k] += x[:, :k]
        return _finish_(y, self.pool)


def add_residual(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``y`` with ``x`` added to its first min(C_y, C_x) channels (training path, no in-place)."""
    k = min(y.shape[1], x.shape[1])
    if k == y.shape[1]:
        return y + x[:, :k]
    return torch.cat((y[:, :k] + x, y[:, k:]), dim=1)


class IdentityBlock(nn.Module):
    """δ4 with unchanged channels: the layer is gone; only its pooling (if any) remains."""

    def __init__(self, pool: bool):
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return max_pool_2x2(x) if self.pool else x


class Head(nn.Module):
    """Global average pooling + linear classifier."""

    def __init__(self, weight, bias):
        super().__init__()
        self.weight, self.bias = _frozen(weight), _frozen(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.mean(dim=(2, 3)), self.weight, self.bias)


# --------------------------------------------------------------------------- elastic layer
class ElasticLayer(nn.Module):
    """Full-size tensors of every operator choice for one compressible conv layer."""

    def __init__(self, arch: ss.Architecture, layer: int):
        super().__init__()
        if not 1 <= layer < len(arch.layers):
            raise ValueError(
                f"layer {layer} is not compressible; expected 1..{arch.n_compressible}")
        spec = arch.layers[layer]
        self.arch, self.layer, self.spec = arch, layer, spec
        self.residual = arch.is_residual(layer)
        cin, cout = spec.in_channels, spec.out_channels
        s = ss.scaled(cout, arch.fire_squeeze_ratio)
        r = ss.scaled(cout, arch.svd_rank_ratio)

        def p(*shape):
            return nn.Parameter(torch.zeros(*shape))

        self.conv_w, self.conv_b = p(cout, cin, 3, 3), p(cout)
        self.fire_squeeze_w, self.fire_squeeze_b = p(s, cin, 1, 1), p(s)
        self.fire_e1_w, self.fire_e1_b = p(cout, s, 1, 1), p(cout)
        self.fire_e3_w, self.fire_e3_b = p(cout, s, 3, 3), p(cout)
        self.svd_basis_w = p(r, cin, 3, 3)
        self.svd_mix_w, self.svd_mix_b = p(cout, r, 1, 1), p(cout)
        self.dws_depthwise_w = p(cin, 1, 3, 3)
        self.dws_pointwise_w, self.dws_pointwise_b = p(cout, cin, 1, 1), p(cout)
        self.skip_w, self.skip_b = p(cout, cin, 1, 1), p(cout)
        for name, param in self.named_parameters():
            if name.endswith("_w"):
                nn.init.kaiming_normal_(param, nonlinearity="relu")

    #: parameter-name prefix of each structure: what "fine-tune only this operator" freezes.
    STRUCTURE_PREFIX = {"conv": "conv_", "fire": "fire_", "svd": "svd_", "dws": "dws_",
                        ss.SKIP: "skip_"}

    def structure_parameters(self, structure: str) -> list[nn.Parameter]:
        prefix = self.STRUCTURE_PREFIX[structure]
        return [p for n, p in self.named_parameters() if n.startswith(prefix)]

    def _check_input(self, cin: int) -> None:
        if not 1 <= cin <= self.spec.in_channels:
            raise ValueError(
                f"layer {self.layer} takes 1..{self.spec.in_channels} input channels, got {cin}"
            )

    def _fire_split(self, cw: int) -> tuple[slice, slice]:
        """(1x1 channels, 3x3 channels) of fire at ``cw`` kept channels: cw//2 take the 1x1
        expand, the rest the 3x3; which half comes first is ``arch.fire_3x3_first``."""
        n1 = cw // 2
        if self.arch.fire_3x3_first:
            return slice(cw - n1, cw), slice(0, cw - n1)
        return slice(0, n1), slice(n1, cw)

    def out_channels(self, option: str) -> int:
        return ss.layer_out_channels(self.arch, self.layer, option, self.spec.in_channels)

    def pre_activation(self, x: torch.Tensor, option: str) -> torch.Tensor | None:
        """The layer's output before ReLU/pool (None for an identity skip), slicing on the fly;
        in a residual layer, the body plus the input."""
        y = self.body(x, option)
        if y is None or not self.residual:
            return y
        return add_residual(y, x)

    def body(self, x: torch.Tensor, option: str) -> torch.Tensor | None:
        """The operator's own output before ReLU/pool (None for an identity skip); equal to
        `pre_activation` except in a residual layer, where the input is added to it."""
        cin = x.shape[1]
        self._check_input(cin)
        structure, _ = ss.parse_option(option)
        cw = self.out_channels(option)
        if structure == "conv":
            return F.conv2d(x, self.conv_w[:cw, :cin], self.conv_b[:cw], padding=1)
        if structure == "fire":
            z = F.relu(F.conv2d(x, self.fire_squeeze_w[:, :cin], self.fire_squeeze_b))
            ones, threes = self._fire_split(cw)
            y3 = F.conv2d(z, self.fire_e3_w[threes], self.fire_e3_b[threes], padding=1)
            if ones.stop == ones.start:
                return y3
            y1 = F.conv2d(z, self.fire_e1_w[ones], self.fire_e1_b[ones])
            return torch.cat((y3, y1) if self.arch.fire_3x3_first else (y1, y3), dim=1)
        if structure == "svd":
            u = F.conv2d(x, self.svd_basis_w[:, :cin], None, padding=1)
            return F.conv2d(u, self.svd_mix_w[:cw], self.svd_mix_b[:cw])
        if structure == "dws":
            d = F.conv2d(x, self.dws_depthwise_w[:cin], None, padding=1, groups=cin)
            return F.conv2d(d, self.dws_pointwise_w[:cw, :cin], self.dws_pointwise_b[:cw])
        if ss.skip_is_identity(self.arch, self.layer, cin):
            return None
        return F.conv2d(x, self.skip_w[:, :cin], self.skip_b)

    def forward(self, x: torch.Tensor, option: str) -> torch.Tensor:
        y = self.pre_activation(x, option)
        if y is None:
            return F.max_pool2d(x, 2) if self.spec.pool else x
        return _finish(y, self.spec.pool)

    @torch.no_grad()
    def extract(self, option: str, cin: int) -> nn.Module:
        """A standalone deployed block for ``option`` on ``cin`` inputs: copies, no autograd."""
        block = self._extract_body(option, cin)
        if self.residual and not isinstance(block, IdentityBlock):
            return ResidualBlock(block)
        return block

    def _extract_body(self, option: str, cin: int) -> nn.Module:
        self._check_input(cin)
        structure, _ = ss.parse_option(option)
        cw = self.out_channels(option)
        pool = self.spec.pool
        if structure == "conv":
            return ConvBlock(self.conv_w[:cw, :cin], self.conv_b[:cw], pool)
        if structure == "fire":
            ones, threes = self._fire_split(cw)
            return FireBlock(self.fire_squeeze_w[:, :cin], self.fire_squeeze_b,
                             self.fire_e1_w[ones], self.fire_e1_b[ones],
                             self.fire_e3_w[threes], self.fire_e3_b[threes], pool,
                             self.arch.fire_3x3_first)
        if structure == "svd":
            return LowRankBlock(self.svd_basis_w[:, :cin], self.svd_mix_w[:cw],
                                self.svd_mix_b[:cw], pool)
        if structure == "dws":
            return DepthwiseSeparableBlock(self.dws_depthwise_w[:cin],
                                           self.dws_pointwise_w[:cw, :cin],
                                           self.dws_pointwise_b[:cw], pool)
        if ss.skip_is_identity(self.arch, self.layer, cin):
            return IdentityBlock(pool)
        return AdapterBlock(self.skip_w[:, :cin], self.skip_b, pool)
