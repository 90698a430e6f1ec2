"""Choosing where a model runs. Never silently ignores a GPU that was asked for."""

from __future__ import annotations

import importlib.util
import logging

from .errors import DeviceError, InvalidArgumentError
from .registry import ModelInfo

log = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda")


def cuda_available() -> bool:
    """True when torch sees a CUDA GPU or onnxruntime has the CUDA provider."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return True
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        return "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    return False


def resolve_device(requested: str, model: ModelInfo) -> str:
    """``auto``: CUDA when the model supports it and a GPU is there, else CPU."""
    if requested not in DEVICES:
        raise InvalidArgumentError(f"device '{requested}' is not one of {', '.join(DEVICES)}")
    gpu_capable = "cuda" in model.devices
    if requested == "cpu":
        return "cpu"
    if requested == "cuda":
        if not gpu_capable:
            raise DeviceError(f"model '{model.name}' runs on the CPU only; use --device cpu "
                              "or auto")
        if not cuda_available():
            raise DeviceError("CUDA was requested but no CUDA GPU is available (install the "
                              "'gpu' extra and an NVIDIA driver, or use --device cpu)")
        return "cuda"
    if gpu_capable and cuda_available():
        return "cuda"
    if gpu_capable:
        log.info("no CUDA GPU found; model '%s' runs on the CPU", model.name)
    return "cpu"
