"""One hand-written training example, as in a textbook worked example (curriculum F3, seed 000
"Backpropagation on an ANN": inputs (2, 3), desired output 1).

The example is both the training and the test set, so evaluation reports the prediction the slides compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.registry import register_data


@dataclass(frozen=True)
class WorkedExampleConfig:
    x: tuple[float, ...] = field((2.0, 3.0), "Inputs of the one example, e.g. 2,3.", nonempty=True)
    y: tuple[float, ...] = field((1.0,), "Its desired outputs, e.g. 1.", nonempty=True)


@register_data("worked-example", config=WorkedExampleConfig)
def build_worked_example(cfg: WorkedExampleConfig, seed: int) -> SupervisedData:
    x = torch.tensor([cfg.x], dtype=torch.float32)  # (1, n_inputs)
    y = torch.tensor([cfg.y], dtype=torch.float32)  # (1, n_outputs)
    meta = DataMeta(kind="features", input_shape=[len(cfg.x)], num_classes=0, class_names=[],
                    feature_names=[f"x{i + 1}" for i in range(len(cfg.x))], source="worked-example")
    return SupervisedData((x, y), (x, y), meta, batch_size=1, seed=seed)
