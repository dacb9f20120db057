"""Mixed precision and compilation (Micikevicius et al., "Mixed Precision Training", 2018; Ansel et al.,
"PyTorch 2: Faster Machine Learning Through Dynamic Python Bytecode Transformation and Graph
Compilation", 2024; curriculum H1): `--run.amp` and `--run.compile`, refused with one line where the
machine cannot do them.

AMP here is bfloat16 autocast around a method's forward pass and loss: matrix products run in bf16 while
weights, gradients and optimiser state stay float32. bf16 keeps float32's exponent range, so no loss
scaling is needed (unlike float16).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from neuralab.errors import UserError


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 in hardware, so autocast speeds it up rather than emulating bf16.

    CPUs: AVX512-BF16 or AMX-BF16 instructions (as torch.cpu reports them); AVX2-only CPUs convert every
    bf16 value in software and run slower than float32. CUDA: the GPU's own bf16 support.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_has_bf16(torch.cpu.get_capabilities())
    return False


def cpu_has_bf16(capabilities: Mapping[str, Any]) -> bool:
    """Whether a CPU with these `torch.cpu.get_capabilities()` has bf16 arithmetic instructions."""
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def use_amp(setting: str, device: torch.device) -> bool:
    """`--run.amp off|on|auto` on `device`: auto turns bf16 autocast on where the hardware has bf16."""
    if setting == "on":
        check_amp(device)
        return True
    return setting == "auto" and native_bf16(device)


def check_amp(device: torch.device) -> None:
    """Refuse `--run.amp` where autocast does not run a matrix product in bfloat16 on `device`."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError(f"--run.amp: {torch.cuda.get_device_name(device)} has no bfloat16 support; "
                        f"drop --run.amp")
    if not torch.amp.is_autocast_available(device.type):
        raise UserError(f"--run.amp: torch has no autocast for {device.type} devices; drop --run.amp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unsupported dtype only warns and disables autocast
        with torch.autocast(device.type, dtype=torch.bfloat16):
            probe = nn.functional.linear(torch.ones(1, 2, device=device), torch.ones(2, 2, device=device))
    if probe.dtype != torch.bfloat16:
        raise UserError(f"--run.amp: bfloat16 autocast is not supported on {device.type} here; drop --run.amp")


def check_compile(device: torch.device) -> None:
    """Refuse `--run.compile` where torch.compile's default backend (Inductor) cannot build kernels."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        raise UserError("--run.compile: torch.compile is not supported by this Python or platform; "
                        "drop --run.compile")
    if device.type == "cpu":
        from torch._inductor.cpp_builder import get_cpp_compiler
        from torch._inductor.exc import InvalidCxxCompiler

        try:
            get_cpp_compiler()
        except InvalidCxxCompiler:
            raise UserError("--run.compile: no working C++ compiler found (Inductor looks for $CXX, else g++); "
                            "install one or drop --run.compile") from None
    elif device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            raise UserError("--run.compile: Triton is not installed, and Inductor needs it for GPU kernels; "
                            "install triton or drop --run.compile")

