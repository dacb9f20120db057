"""Synthetic sequence tasks for the recurrent regimes of curriculum S3, generated from a fixed seed.

`bracket-depth` (many-to-many aligned): strings of '(', ')' and a filler 'x'; each token's tag is the nesting
depth after it, which no window of nearby tokens decides: a tagger has to count over everything it read.
Lengths vary, the shorter strings are padded with <pad> (id 0) and their padded steps carry the label -100,
which the supervised rule ignores.

`sine-waves` (one-to-many): from one vector (amplitude, frequency, cos phase, sin phase) the `steps` values of
a * sin(2 pi f t / steps + phase); the phase enters as its cosine and sine, so nearby phases are nearby inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from neuralab.config import field
from neuralab.data.tensors import IGNORE_INDEX, DataMeta, SupervisedData
from neuralab.data.vocab import PAD, Vocabulary
from neuralab.errors import UserError
from neuralab.registry import register_data

BRACKETS = ("(", ")", "x")


@dataclass(frozen=True)
class GeneratedTaskConfig:
    """Fields every generated task shares: how many examples of each split, batches, and the generator's seed."""

    n_train: int = field(4000, "Training examples.", ge=1)
    n_test: int = field(1000, "Test examples.", ge=1)
    batch_size: int = field(64, "Examples per training step.", ge=1)
    generator_seed: int = field(0, "Seed of the generator; the run's own seed only orders the batches.")


@dataclass(frozen=True)
class BracketDepthConfig(GeneratedTaskConfig):
    """Strings of brackets and fillers, each symbol tagged with its nesting depth."""

    length: int = field(48, "Longest string; lengths are drawn uniformly from length/2 to length.", ge=2)
    max_depth: int = field(5, "Deepest nesting: the tags are depths 0..max_depth.", ge=1)


def bracket_strings(n: int, length: int, max_depth: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(symbols, depths), both (n, length) int64: symbol indices into BRACKETS and the depth after each, -1 past a
    string's end. Each step draws '(', ')' or 'x' uniformly; '(' at max_depth and ')' at 0 flip to the other."""
    symbols = rng.integers(0, 3, size=(n, length))
    depths = np.zeros((n, length), dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    for t in range(length):  # one vectorised step over all strings
        s = symbols[:, t]
        s[(s == 0) & (depth == max_depth)] = 1
        s[(s == 1) & (depth == 0)] = 0
        depth = depth + (s == 0) - (s == 1)
        depths[:, t] = depth
    ends = rng.integers(length // 2, length + 1, size=n)
    past = np.arange(length)[None, :] >= ends[:, None]
    symbols[past], depths[past] = -1, -1
    return symbols, depths


@register_data("bracket-depth", config=BracketDepthConfig)
def build_bracket_depth(cfg: BracketDepthConfig, seed: int) -> SupervisedData:
    """Token ids (N, length) and depth tags (N, length), -100 on padding: kind text, classes "depth 0".."""
    vocab = Vocabulary(BRACKETS, "char")
    first = vocab.encode(BRACKETS[0])[0]  # ids of '(', ')', 'x' follow the specials in order
    rng = np.random.default_rng(cfg.generator_seed)
    splits = []
    for n in (cfg.n_train, cfg.n_test):
        symbols, depths = bracket_strings(n, cfg.length, cfg.max_depth, rng)
        x = np.where(symbols >= 0, symbols + first, PAD)
        y = np.where(depths >= 0, depths, IGNORE_INDEX)
        splits.append((torch.from_numpy(x), torch.from_numpy(y)))
    meta = DataMeta(kind="text", input_shape=[cfg.length], num_classes=cfg.max_depth + 1,
                    class_names=[f"depth {d}" for d in range(cfg.max_depth + 1)], vocab=vocab.tokens, tokenizer="char",
                    source="bracket-depth")
    return SupervisedData(*splits, meta, batch_size=cfg.batch_size, seed=seed)


@dataclass(frozen=True)
class SineWavesConfig(GeneratedTaskConfig):
    """Waves generated from (amplitude, frequency, phase) vectors."""

    steps: int = field(50, "Values generated from each vector.", ge=2)
    min_frequency: float = field(1.0, "Fewest cycles over the steps.", gt=0)
    max_frequency: float = field(4.0, "Most cycles over the steps.", gt=0)
    min_amplitude: float = field(0.5, "Smallest amplitude.", ge=0)
    max_amplitude: float = field(1.5, "Largest amplitude.", gt=0)


def sine_waves(n: int, cfg: SineWavesConfig, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(vectors (n, 4), waves (n, steps)) with amplitude, frequency and phase drawn uniformly."""
    u = torch.rand(n, 3, generator=g)
    amplitude = cfg.min_amplitude + (cfg.max_amplitude - cfg.min_amplitude) * u[:, 0]
    frequency = cfg.min_frequency + (cfg.max_frequency - cfg.min_frequency) * u[:, 1]
    phase = 2 * math.pi * u[:, 2]
    t = torch.arange(cfg.steps) / cfg.steps
    waves = amplitude[:, None] * torch.sin(2 * math.pi * frequency[:, None] * t + phase[:, None])
    return torch.stack([amplitude, frequency, phase.cos(), phase.sin()], 1), waves


@register_data("sine-waves", config=SineWavesConfig)
def build_sine_waves(cfg: SineWavesConfig, seed: int) -> SupervisedData:
    """Vectors (N, 4) -> waves (N, steps) as float tensors: regression, one-to-many."""
    if cfg.min_frequency > cfg.max_frequency or cfg.min_amplitude > cfg.max_amplitude:
        raise UserError("--data.min_frequency/min_amplitude must not exceed max_frequency/max_amplitude")
    g = torch.Generator().manual_seed(cfg.generator_seed)
    train, test = sine_waves(cfg.n_train, cfg, g), sine_waves(cfg.n_test, cfg, g)
    meta = DataMeta(kind="features", input_shape=[4], num_classes=0, class_names=[],
                    feature_names=["amplitude", "frequency", "cos_phase", "sin_phase"], target_shape=[cfg.steps],
                    source="sine-waves")
    return SupervisedData(train, test, meta, batch_size=cfg.batch_size, seed=seed)
