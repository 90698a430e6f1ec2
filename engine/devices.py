"""Choosing where a model runs. Never silently ignores a GPU that was asked for."""

from __future__ import annotations

import importlib.util
import logging

from .errors import DeviceError, InvalidArgumentError
from .registry import ModelInfo

log = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda")
# backends that run every graph in onnxruntime: whether they can use a GPU is its provider
# list alone, so their runs never import torch (seconds of start-up on a CPU)
ONNXRUNTIME_BACKENDS = frozenset({"bandsplit", "mdxnet"})


def cuda_available(torch_too: bool = True) -> bool:
    """True when onnxruntime has the CUDA provider or (``torch_too``) torch sees a CUDA GPU."""
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            return True
    if torch_too and importlib.util.find_spec("torch") is not None:
        import torch

        return torch.cuda.is_available()
    return False


def resolve_device(requested: str, model: ModelInfo) -> str:
    """``auto``: CUDA when the model supports it and a GPU is there, else CPU."""
    if requested not in DEVICES:
        raise InvalidArgumentError(f"device '{requested}' is not one of {', '.join(DEVICES)}")
    gpu_capable = "cuda" in model.devices
    torch_too = model.backend not in ONNXRUNTIME_BACKENDS
    if requested == "cpu":
        return "cpu"
    if requested == "cuda":
        if not gpu_capable:
            raise DeviceError(f"model '{model.name}' runs on the CPU only; use --device cpu "
                              "or auto")
        if not cuda_available(torch_too):
            raise DeviceError("CUDA was requested but no CUDA GPU is available (install the "
                              "'gpu' extra and an NVIDIA driver, or use --device cpu)")
        return "cuda"
    if gpu_capable and cuda_available(torch_too):
        return "cuda"
    if gpu_capable:
        log.info("no CUDA GPU found; model '%s' runs on the CPU", model.name)
    return "cpu"
