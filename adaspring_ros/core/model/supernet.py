"""The self-evolutionary network: one set of stored tensors from which any configuration runs.

`SelfEvolutionaryNet` holds the backbone (stem, four compressible layers, head) and, inside each
`operators.ElasticLayer`, the weights of every operator choice. Two ways to run it:

- `set_active_config(config)` then `forward(x)`: slices the stored tensors on the fly
  (once-for-all style). Used by training, where gradients must reach the shared tensors.
- `get_active_subnet(config)`: copies the slices into a standalone eval-mode `SubNet` (no
  autograd, no optimizer, no data). Used at run time: the copy is contiguous, so it runs as
  fast as a network built for that shape, and it stays valid while the supernet keeps
  serving other configurations. The backbone configuration is always available, so
  compression is reversible: scaling back up is one more call.

The δ3 channel-noise magnitudes (`width_log_sigma`, in width units) are trained with the
weights (`noisy_forward`); `channel_noise()` exports them for the profile, where the run-time
search uses them to mutate candidate widths. One σ per compressible layer by default (every
checkpoint before issue 14's per-channel noise); with ``Architecture.per_channel_noise`` one σ
per output channel of each compressible layer (the paper's §4.2.2: "the more important the
channel is, the lower intensity of noise we inject"), stored flat, layer after layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.operators import ConvBlock, ElasticLayer, Head

#: Bounds on the trained δ3 width-noise std (fraction of the layer's channels).
NOISE_SIGMA_BOUNDS = (0.005, 0.5)


class SubNet(nn.Module):
    """One configuration as a plain feed-forward module (eval mode, frozen parameters)."""

    def __init__(self, config: ss.Configuration, stem: nn.Module, blocks: Sequence[nn.Module],
                 head: nn.Module):
        super().__init__()
        self.config = config
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class SelfEvolutionaryNet(nn.Module):
    """Backbone + all operator weights; see the module docstring."""

    def __init__(self, arch: ss.Architecture | None = None):
        super().__init__()
        self.arch = ss.Architecture() if arch is None else arch
        spec0 = self.arch.layers[0]
        self.stem_w = nn.Parameter(torch.empty(spec0.out_channels, spec0.in_channels, 3, 3))
        self.stem_b = nn.Parameter(torch.zeros(spec0.out_channels))
        nn.init.kaiming_normal_(self.stem_w, nonlinearity="relu")
        self.layers = nn.ModuleList(
            ElasticLayer(self.arch, i) for i in range(1, len(self.arch.layers))
        )
        last = self.arch.layers[-1].out_channels
        self.head_w = nn.Parameter(torch.empty(self.arch.n_classes, last))
        self.head_b = nn.Parameter(torch.zeros(self.arch.n_classes))
        nn.init.normal_(self.head_w, std=0.01)
        n_sigma = (sum(self.arch.channels[1:]) if self.arch.per_channel_noise
                   else self.arch.n_compressible)
        self.width_log_sigma = nn.Parameter(torch.full((n_sigma,), math.log(0.05)))
        self._active = ss.backbone_configuration(self.arch)

    # ------------------------------------------------------------------ configuration
    def set_active_config(self, config: Sequence[str]) -> None:
        self._active = ss.validate_configuration(self.arch, config)

    def get_active_config(self) -> ss.Configuration:
        return self._active

    # ------------------------------------------------------------------ dynamic forward
    def stem(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.stem_w, self.stem_b, padding=1)
        return F.relu(F.max_pool2d(y, 2)) if self.arch.layers[0].pool else F.relu(y)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        cin = x.shape[1]
        return F.linear(x.mean(dim=(2, 3)), self.head_w[:, :cin], self.head_b)

    def forward(self, x: torch.Tensor, config: Sequence[str] | None = None) -> torch.Tensor:
        """Logits of ``config`` (default: the active one), computed on sliced shared tensors."""
        config = self._active if config is None else ss.validate_configuration(self.arch, config)
        x = self.stem(x)
        for layer, option in zip(self.layers, config, strict=True):
            x = layer(x, option)
        return self.head(x)

    def noisy_forward(self, x: torch.Tensor, widths: Sequence[float | torch.Tensor],
                      temperature: float = 1.0) -> torch.Tensor:
        """δ3 with trainable Gaussian noise on each layer's width ratio (per sample).

        Channel c of layer l is kept by a soft mask sigmoid((w'·C - c - 0.5) / temperature)
        with w' = w_l + σ·ε. Because channels are ordered by importance, noise only ever
        perturbs the least important ones; the gradient reaching σ says how much the loss
        cares about the exact width, so a regulariser that rewards large σ leaves each σ with
        the noise it tolerates: the magnitudes the search mutates with.

        Per layer (default), σ = σ_l. Per channel (``Architecture.per_channel_noise``), σ is
        the mean of the σ of the two channels around the sample's cut (the last kept and the
        first dropped, k - 1 and k with k = round(w·C)), so each channel's σ learns how much
        moving the cut across that channel costs. ``widths`` holds one width per layer, a
        float or a (batch,) tensor of per-sample widths (per-channel training draws them
        uniformly so that every channel is at the cut now and then).
        """
        if len(widths) != self.arch.n_compressible:
            raise ValueError(f"expected {self.arch.n_compressible} widths, got {len(widths)}")
        batch = x.shape[0]
        x = self.stem(x)
        for i, (layer, width) in enumerate(zip(self.layers, widths, strict=True)):
            y = F.relu(layer.pre_activation(x, ss.UNCOMPRESSED))
            cout = y.shape[1]
            w = (torch.as_tensor(width, dtype=x.dtype, device=x.device)
                 .reshape(-1, 1).expand(batch, 1))
            sigma = self.layer_noise_tensor(i + 1)
            if sigma.dim():  # per channel: the σ of the channels around each sample's cut
                k = (w[:, 0] * cout).round().long().clamp(1, cout - 1)
                sigma = (0.5 * (sigma[k - 1] + sigma[k])).reshape(batch, 1)
            noisy_width = w + sigma * torch.randn(batch, 1, device=x.device)
            index = torch.arange(cout, device=x.device, dtype=x.dtype).reshape(1, -1)
            mask = torch.sigmoid((noisy_width * cout - index - 0.5) / temperature)
            y = y * mask.reshape(batch, cout, 1, 1)
            x = F.max_pool2d(y, 2) if layer.spec.pool else y
        return self.head(x)

    def channel_noise_tensor(self) -> torch.Tensor:
        """Every trained σ (clamped to NOISE_SIGMA_BOUNDS): one per layer, or per channel."""
        lo, hi = NOISE_SIGMA_BOUNDS
        return self.width_log_sigma.clamp(math.log(lo), math.log(hi)).exp()

    def layer_noise_tensor(self, layer: int) -> torch.Tensor:
        """σ of compressible layer ``layer`` (1-based): a scalar, or (C_out,) per channel."""
        sigma = self.channel_noise_tensor()
        if not self.arch.per_channel_noise:
            return sigma[layer - 1]
        start = sum(self.arch.channels[1:layer])
        return sigma[start:start + self.arch.channels[layer]]

    def noise_log_reward(self) -> torch.Tensor:
        """Σ over layers of the layer's mean log σ: the quantity distillation rewards. Per
        channel, the mean keeps each layer's total reward what one per-layer σ got, so a
        channel's reward matches how often it sits at the cut (1 / C of the draws)."""
        return sum(self.layer_noise_tensor(i).log().mean()
                   for i in range(1, self.arch.n_compressible + 1))

    def channel_noise(self) -> dict[int, float | list[float]]:
        """Trained δ3 noise std per compressible layer (1-based conv index), in width units:
        a float per layer, or a list with one value per output channel (importance order)."""
        out: dict[int, float | list[float]] = {}
        for i in range(1, self.arch.n_compressible + 1):
            sigma = self.layer_noise_tensor(i).detach()
            out[i] = [float(v) for v in sigma] if sigma.dim() else float(sigma)
        return out

    # ------------------------------------------------------------------ deployment
    @torch.no_grad()
    def get_active_subnet(self, config: Sequence[str] | None = None) -> SubNet:
        """A standalone eval-mode module for ``config`` (default: the active one).

        Pure tensor slicing and copying: no optimizer, no backward pass, no data.
        """
        config = self._active if config is None else ss.validate_configuration(self.arch, config)
        stem = ConvBlock(self.stem_w, self.stem_b, self.arch.layers[0].pool)
        cin = self.arch.layers[0].out_channels
        blocks = []
        for i, (layer, option) in enumerate(zip(self.layers, config, strict=True), start=1):
            blocks.append(layer.extract(option, cin))
            cin = ss.layer_out_channels(self.arch, i, option, cin)
        head = Head(self.head_w[:, :cin], self.head_b)
        return SubNet(config, stem, blocks, head)

    def extract_stem(self) -> nn.Module:
        return ConvBlock(self.stem_w, self.stem_b, self.arch.layers[0].pool).eval()

    def extract_head(self, in_channels: int) -> nn.Module:
        last = self.arch.layers[-1].out_channels
        if not 1 <= in_channels <= last:
            raise ValueError(f"the head takes 1..{last} channels, got {in_channels}")
        return Head(self.head_w[:, :in_channels], self.head_b).eval()
