"""Nature DQN network (Mnih et al., "Human-level control through deep reinforcement learning", Nature, 2015): a
stack of four 84x84 Atari frames -> one action value per action.

Three convolutions (32 8x8 filters stride 4, 64 4x4 stride 2, 64 3x3 stride 1), each followed by a ReLU and no
pooling (pooling would throw away where things are on the screen, which is what the values depend on), then a
fully connected layer of 512 ReLUs and a linear output per action: 3 conv + 2 FC. The input is uint8 pixels (what
the replay buffer stores), scaled to [0, 1] by /255 inside the network. Layers take PyTorch's default
initialisation, as CleanRL and Stable-Baselines3 do. The outputs are Q-values, not action probabilities (the notes'
wording, inventory section 11 item 8).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class NatureCNNConfig:
    in_channels: int = field(4, "Stacked frames per observation (the channels of the input).", ge=1)
    image_size: int = field(84, "Height and width of each frame; the layers below need at least 36.", ge=36)
    n_actions: int = field(6, "Outputs: one action value per action (Pong: 6).", ge=1)
    hidden: int = field(512, "Units of the fully connected hidden layer.", ge=1)


def conv_out(size: int) -> int:
    """Side of the last feature map for `size`x`size` inputs (84 -> 20 -> 9 -> 7)."""
    for kernel, stride in ((8, 4), (4, 2), (3, 1)):
        size = (size - kernel) // stride + 1
    return size


@register_model("nature-cnn", family="rl", config=NatureCNNConfig, sizing=sizing.unsized,
                example_input=lambda c: torch.randint(0, 256, (2, c.in_channels, c.image_size, c.image_size),
                                                      dtype=torch.uint8),
                paper="Mnih et al. 2015, Human-level control through deep reinforcement learning")
class NatureCNN(nn.Module):
    """(B, C, H, W) uint8 frames -> (B, n_actions) action values."""

    def __init__(self, cfg: NatureCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        side = conv_out(cfg.image_size)
        self.features = nn.Sequential(
            nn.Conv2d(cfg.in_channels, 32, 8, stride=4), nn.ReLU(),  # (B, 32, 20, 20) for 84x84
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),  # (B, 64, 9, 9)
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),  # (B, 64, 7, 7)
            nn.Flatten(),  # (B, 3136)
        )
        self.head = nn.Sequential(
            nn.Linear(64 * side * side, cfg.hidden), nn.ReLU(),  # (B, 512)
            nn.Linear(cfg.hidden, cfg.n_actions),  # (B, n_actions)
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(frames.float() / 255.0))
