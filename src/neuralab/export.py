"""Model export: a trained run's network as an ONNX graph or as its weights alone in safetensors.

ONNX goes through `torch.onnx.export` (the dynamo exporter, which needs the `export` extra: onnx and
onnxscript) with a dynamic batch dimension, input "input" and output "output"; onnxruntime and other
runtimes then run the model without neuralab or PyTorch. safetensors holds the model's weights alone
(`safetensors.torch.save_model`, which also handles tied weights); `neuralab.create_model(model,
**model_config)` rebuilds the module they load into. Both files carry a JSON description under the
metadata key "neuralab": recipe, model name and config, checkpoint step, and the data description
(input shape, classes, the normalisation x' = (x / pixel_scale - mean) / std that inputs need).
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.api import LoadedRun, load
from neuralab.atomic import write_atomic
from neuralab.config import to_dict
from neuralab.errors import UserError
from neuralab.registry import MODELS

FORMATS = ("onnx", "safetensors")
METADATA_KEY = "neuralab"


def describe(loaded: LoadedRun) -> dict[str, Any]:
    """What the exported file needs to say about itself: enough to rebuild the model and feed it."""
    run = loaded.run
    return {"recipe": run.recipe.name, "model": run.recipe.model, "model_config": to_dict(run.sections["model"]),
            "step": loaded.step, "data_meta": loaded.meta.to_dict() if loaded.meta else {}}


def exportable_model(loaded: LoadedRun) -> nn.Module:
    """The run's trained network in evaluation mode; a `UserError` for runs that have none."""
    run = loaded.run
    name = run.recipe.name
    if not any(p.numel() for p in run.model.parameters()):
        raise UserError(f"{name}: model {run.recipe.model} has no parameters, only a table of values written by "
                        f"its learning rule (no network to export); its values are in the checkpoint")
    if "model" not in run.method.state_dict():  # comparisons train copies (variants, solvers), not run.model
        raise UserError(f"{name}: method {run.recipe.method} trains several variants side by side, not one "
                        f"network; there is no single trained model to export")
    return run.model.eval()


def example_input(loaded: LoadedRun) -> torch.Tensor:
    """A batch of 2 inputs of the shape the model was trained on (2: a batch of 1 would fix the dimension)."""
    if loaded.meta is not None:
        return torch.randn(2, *loaded.meta.input_shape)
    example = MODELS.get(loaded.run.recipe.model).example_input(loaded.run.sections["model"])
    return example[:1].expand(2, *example.shape[1:]).clone()


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's notes (missing optional torchvision ops, deprecations inside torch)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def write_onnx(model: nn.Module, x: torch.Tensor, out: Path, description: dict[str, Any]) -> None:
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it; fail here with the fix, not inside torch)
    except ImportError:
        raise UserError("--format onnx needs the export extra: pip install 'neuralab[export]' (onnx, onnxscript)") \
            from None
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(model, (x.to(next(model.parameters()).device),), input_names=["input"],
                                    output_names=["output"], dynamic_shapes=({0: torch.export.Dim("batch")},),
                                    dynamo=True, verbose=False)
    proto = program.model_proto
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(description))
    write_atomic(out, lambda tmp: onnx.save_model(proto, tmp))


def write_safetensors(model: nn.Module, out: Path, description: dict[str, Any]) -> None:
    from safetensors.torch import save_model

    write_atomic(out, lambda tmp: save_model(model, tmp, metadata={METADATA_KEY: json.dumps(description)}))


def export_run(run_dir: str | Path, fmt: str, out: str | Path | None = None,
               checkpoint: int | str = "latest") -> Path:
    """Export the network of run `run_dir` at `checkpoint` as `fmt` ("onnx" or "safetensors") to `out`
    (default RUN_DIR/model.FMT); returns the path written."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    loaded = load(run_dir, with_data=False, checkpoint=checkpoint)
    model = exportable_model(loaded)
    out = Path(out) if out else Path(run_dir) / f"model.{fmt}"
    description = describe(loaded)
    if fmt == "onnx":
        write_onnx(model, example_input(loaded), out, description)
    else:
        write_safetensors(model, out, description)
    return out
