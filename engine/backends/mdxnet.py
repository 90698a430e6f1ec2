"""``mdxnet``: an MDX-Net ONNX model (as Ultimate Vocal Remover runs them), by onnxruntime.

MDX-Net ("KUIELab-MDX-Net: A Two-Stream Neural Network for Music Demixing",
arXiv:2111.12203) models extract one stem from a spectrogram. A window of ``hop * (dim_t - 1)``
stereo samples becomes a torch-style STFT (Hann window of ``n_fft``, centred, reflect-padded)
cut to the lowest ``dim_f`` bins and laid out as (1, 4, dim_f, dim_t): left real, left
imaginary, right real, right imaginary; the three lowest bins are zeroed, as UVR does. The
graph returns the stem's spectrogram in that layout; its inverse STFT times ``compensate``
(UVR's per-model gain) is the stem, and the mixture minus it the complementary stem.
``denoise`` runs the graph on the spectrogram and its negative and averages (UVR's "denoise").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from ..errors import ModelConfigError
from ..onnx_runtime import Session
from ..registry import ModelInfo
from .base import Backend, CheckCancel, ChunkPlan, OnFraction
from .foreign import from_model, run_tiled, to_model, window_plan
from .options import for_model

N_LOW_BINS_ZEROED = 3


@dataclass(frozen=True)
class MdxParams:
    """What the model was trained with (manifest params; UVR's model data names in comments)."""

    n_fft: int  # mdx_n_fft_scale_set
    dim_f: int  # mdx_dim_f_set: the lowest bins the model sees
    dim_t: int  # 2 ** mdx_dim_t_set: frames per window
    hop: int = 1024  # UVR's fixed hop
    compensate: float = 1.0  # compensate: gain on the model's output

    @property
    def window(self) -> int:
        """Samples per model call: ``dim_t`` centred frames."""
        return self.hop * (self.dim_t - 1)


def _hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(K, N) -> (K, F, T) complex64, as ``torch.stft(center=True)`` computes it."""
    pad = n_fft // 2
    padded = np.pad(x, ((0, 0), (pad, pad)), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop]
    spec = scipy.fft.rfft(frames * _hann(n_fft), axis=-1)
    return spec.transpose(0, 2, 1).astype(np.complex64)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """(K, F, T) -> (K, length) float32, as ``torch.istft(center=True)`` computes it."""
    window = _hann(n_fft)
    frames = scipy.fft.irfft(spec.transpose(0, 2, 1), n=n_fft, axis=-1) * window
    n_frames = spec.shape[-1]
    out = np.zeros((spec.shape[0], (n_frames - 1) * hop + n_fft), np.float64)
    envelope = np.zeros(out.shape[-1], np.float64)
    for t in range(n_frames):
        out[:, t * hop:t * hop + n_fft] += frames[:, t]
        envelope[t * hop:t * hop + n_fft] += window ** 2
    pad = n_fft // 2
    out = out[:, pad:pad + length] / np.maximum(envelope[pad:pad + length], 1e-11)
    return out.astype(np.float32)


class MdxNetBackend(Backend):
    def __init__(self, info: ModelInfo, device: str, options: dict | None = None):
        self.options = for_model(info, options)
        values = {k: info.params[k] for k in ("n_fft", "dim_f", "dim_t", "hop", "compensate")
                  if k in info.params}
        try:
            self.params = MdxParams(**values)
        except TypeError as err:
            raise ModelConfigError(f"MDX-Net settings are incomplete ({err})",
                                   info.folder) from err
        self.stems = tuple(info.stems)
        self.rate = int(info.sample_rate or 44100)
        self.session = Session(info.file(info.params["onnx"]), device)

    @property
    def device(self) -> str:
        return "cuda" if self.session.provider != "CPUExecutionProvider" else "cpu"

    @property
    def placement(self) -> str:
        return f"MDX-Net: onnxruntime {self.session.provider}"

    @property
    def max_workers(self) -> int:
        return 1  # onnxruntime spreads one chunk over the cores

    def working_rate(self, input_rate: int) -> int:
        return self.rate

    def plan(self, sample_rate: int) -> ChunkPlan:
        return window_plan(self.params.window, sample_rate, self.options.context_s,
                           self.options.crossfade_s)

    def _model(self, spec: np.ndarray) -> np.ndarray:
        out = self.session(spec)[0]
        if self.options.denoise:
            out = 0.5 * (out - self.session(-spec)[0])
        return out

    def _run(self, x: np.ndarray) -> np.ndarray:
        """(1, 2, window) -> (1, 2, 2, window): the stem, then the rest of the mixture."""
        p = self.params
        spec = stft(x[0], p.n_fft, p.hop)  # (2, F, T)
        parts = np.stack([spec.real, spec.imag], axis=1)[:, :, :p.dim_f]  # (2, 2, dim_f, T)
        parts[:, :, :N_LOW_BINS_ZEROED] = 0.0
        out = self._model(parts.reshape(1, 4, p.dim_f, p.dim_t).astype(np.float32))
        out = out.reshape(2, 2, p.dim_f, p.dim_t)
        full = np.zeros(spec.shape, np.complex64)
        full[:, :p.dim_f] = out[:, 0] + 1j * out[:, 1]
        stem = istft(full, p.n_fft, p.hop, x.shape[-1]) * np.float32(p.compensate)
        return np.stack([stem, x[0] - stem])[None]

    def separate_chunk(self, audio: np.ndarray, sample_rate: int, check_cancel: CheckCancel,
                       on_fraction: OnFraction | None = None) -> np.ndarray:
        x = np.ascontiguousarray(to_model(audio, 2))
        out = run_tiled(self._run, x, self.params.window, self.params.n_fft // 2, check_cancel,
                        on_fraction)
        return from_model(out, audio.shape[0])
