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

The δ3 channel-noise magnitudes (`width_log_sigma`, one per compressible layer, in width units)
are trained with the weights (`noisy_forward`); `channel_noise()` exports them for the profile,
where the run-time search uses them to mutate candidate widths.
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
        self.width_log_sigma = nn.Parameter(
            torch.full((self.arch.n_compressible,), math.log(0.05)))
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

    def noisy_forward(self, x: torch.Tensor, widths: Sequence[float],
                      temperature: float = 1.0) -> torch.Tensor:
        """δ3 with trainable Gaussian noise on each layer's width ratio (per sample).

        Channel c of layer l is kept by a soft mask sigmoid((w'·C - c - 0.5) / temperature)
        with w' = w_l + σ_l·ε. Because channels are ordered by importance, noise only ever
        perturbs the least important ones; the gradient reaching σ_l says how much the loss
        cares about that layer's exact width, so a regulariser that rewards large σ leaves
        each layer with the noise it tolerates: the magnitudes the search mutates with.
        """
        if len(widths) != self.arch.n_compressible:
            raise ValueError(f"expected {self.arch.n_compressible} widths, got {len(widths)}")
        sigma = self.channel_noise_tensor()
        batch = x.shape[0]
        x = self.stem(x)
        for i, (layer, width) in enumerate(zip(self.layers, widths, strict=True)):
            y = F.relu(layer.pre_activation(x, ss.UNCOMPRESSED))
            cout = y.shape[1]
            noisy_width = width + sigma[i] * torch.randn(batch, 1, device=x.device)
            index = torch.arange(cout, device=x.device, dtype=x.dtype).reshape(1, -1)
            mask = torch.sigmoid((noisy_width * cout - index - 0.5) / temperature)
            y = y * mask.reshape(batch, cout, 1, 1)
            x = F.max_pool2d(y, 2) if layer.spec.pool else y
        return self.head(x)

    def channel_noise_tensor(self) -> torch.Tensor:
        lo, hi = NOISE_SIGMA_BOUNDS
        return self.width_log_sigma.clamp(math.log(lo), math.log(hi)).exp()

    def channel_noise(self) -> dict[int, float]:
        """Trained δ3 noise std per compressible layer (1-based conv index), in width units."""
        sigma = self.channel_noise_tensor().detach()
        return {i + 1: float(s) for i, s in enumerate(sigma)}

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
