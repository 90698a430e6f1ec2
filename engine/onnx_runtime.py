"""onnxruntime sessions with an explicit provider choice, and a report of what actually runs.

``device="auto"`` asks for TensorRT, then CUDA, then the CPU, whichever this onnxruntime build
offers; ``"cuda"`` insists on a GPU provider (an error, not a silent CPU fallback, if there is
none); ``"cpu"`` uses the CPU. ``Session.provider`` is the provider onnxruntime actually put
first after loading the graph, which is what users should be told.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .errors import DeviceError, ModelError

log = logging.getLogger(__name__)
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def providers_for(device: str) -> list[str]:
    """The provider list to ask onnxruntime for, best first."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    gpus = [p for p in GPU_PROVIDERS if p in available]
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda" and not gpus:
        raise DeviceError("CUDA was requested but this onnxruntime has no GPU provider "
                          f"(it offers {', '.join(available)}); install the 'gpu' extra")
    return gpus + ["CPUExecutionProvider"]


class Session:
    """One ONNX graph, loaded for ``device``."""

    def __init__(self, path: str | Path, device: str = "auto", threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(str(path), options,
                                                 providers=providers_for(device))
        except DeviceError:
            raise
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"cannot load this ONNX graph ({err})", path) from err
        self.provider = self._session.get_providers()[0]
        if device == "cuda" and self.provider not in GPU_PROVIDERS:
            raise DeviceError(f"CUDA was requested but onnxruntime runs {path} on "
                              f"{self.provider}")
        self.inputs = [i.name for i in self._session.get_inputs()]
        log.info("%s runs on %s", Path(path).name, self.provider)

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        return self._session.run(None, dict(zip(self.inputs, arrays, strict=True)))
