"""The method contract: a learning rule that owns its updates; the engine only counts and records.

A method implements `step(batch) -> metrics`, `evaluate() -> metrics`, `state_dict()` and
`load_state_dict()`. It may set `done = True` to end training early (a converged perceptron) and may
offer `report(run_dir) -> str` for tables and plots written at the end of a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch


@dataclass(frozen=True)
class RunContext:
    total_steps: int
    device: torch.device
    seed: int
    run_dir: Path | None
    amp: bool = False  # --run.amp: bfloat16 autocast around forward passes and losses

    def autocast(self) -> torch.autocast:
        """Context for a method's forward pass and loss: bf16 autocast under --run.amp, else a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)


class Method(Protocol):
    done: bool

    def step(self, batch: Any) -> dict[str, float]: ...

    def evaluate(self) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
