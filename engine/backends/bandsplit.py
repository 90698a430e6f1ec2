"""``bandsplit``: the compact band-split RoFormer mask model, run by onnxruntime.

Per chunk (at the model's 44.1 kHz; the engine resamples around it): the engine's STFT of the
stereo mixture goes through the exported graph (``model.onnx``: (B, C, T, F, 2) -> masks
(B, S, T, F) summing to one over the stems), and then either

- plain masking (default): each stem is its mask times the mixture STFT, so the stems sum to
  the mixture exactly, or
- the multichannel Wiener filter (``wiener=True``): the masked magnitudes are each stem's power
  estimate, and the filter gives every stem its own stereo image from the mixture (cleaner
  vocals by DNSMOS and NISQA, lower uSDR on our held-out songs: the model card's Scores).

With ``shifts=N`` the masks are computed on N STFT grids, each hop / N samples after the last,
and the stems are the mean of the N separations (still summing to the mixture; N times the
work). Mono input is given to the network as two equal channels. Chunks are about as long as the
model's training crops (attention spans the whole window it sees).
"""

from __future__ import annotations

import numpy as np

from ..dsp.stft import istft, stft
from ..dsp.wiener import wiener
from ..errors import ModelError
from ..onnx_runtime import Session
from ..registry import ModelInfo
from .base import Backend, CheckCancel, ChunkPlan, OnFraction
from .options import for_model


class BandSplitBackend(Backend):
    def __init__(self, info: ModelInfo, device: str, options: dict | None = None):
        self.options = for_model(info, options)
        self.stems = tuple(info.stems)
        if info.sample_rate is None:
            raise ModelError("a bandsplit model's manifest must give its sample_rate",
                             info.folder)
        self.rate = int(info.sample_rate)
        self.session = Session(info.file("model.onnx"), device)

    @property
    def device(self) -> str:
        return "cuda" if self.session.provider != "CPUExecutionProvider" else "cpu"

    @property
    def placement(self) -> str:
        return f"onnxruntime {self.session.provider}"

    @property
    def max_workers(self) -> int:
        """onnxruntime already spreads one chunk over the cores."""
        return 1

    def working_rate(self, input_rate: int) -> int:
        return self.rate

    def plan(self, sample_rate: int) -> ChunkPlan:
        hop = self.options.hop
        chunk = max(hop, int(self.options.chunk_s * sample_rate) // hop * hop)
        context = int(self.options.context_s * sample_rate) // hop * hop
        return ChunkPlan(chunk=chunk, context=context, align=hop, crossfade=sample_rate // 2)

    def masks(self, x: np.ndarray) -> np.ndarray:
        """Mixture STFT (C, T, F) -> masks (S, T, F)."""
        pair = x if x.shape[0] == 2 else np.repeat(x[:1], 2, axis=0)
        spec = np.stack([pair.real, pair.imag], -1)[None].astype(np.float32, copy=False)
        return self.session(spec)[0][0]

    def separate_chunk(self, audio: np.ndarray, sample_rate: int, check_cancel: CheckCancel,
                       on_fraction: OnFraction | None = None) -> np.ndarray:
        o = self.options
        out = np.zeros((len(self.stems),) + audio.shape, np.float32)
        for i in range(o.shifts):
            offset = i * o.hop // o.shifts  # the same audio on another STFT grid
            shifted = np.pad(audio, ((0, 0), (offset, 0))) if offset else audio
            out += self._separate_on_grid(shifted)[:, :, offset:] / o.shifts
            check_cancel()
            if on_fraction is not None:
                on_fraction((i + 1) / o.shifts)
        return out

    def _separate_on_grid(self, audio: np.ndarray) -> np.ndarray:
        o = self.options
        n = audio.shape[1]
        x = stft(audio, o.n_fft, o.hop)  # (C, T, F)
        masks = self.masks(x)
        out = np.empty((len(self.stems),) + audio.shape, np.float32)
        if o.wiener:
            power = np.mean(x.real ** 2 + x.imag ** 2, axis=0)  # (T, F)
            for k, image in enumerate(wiener(x, masks ** 2 * power + 1e-10, o.spatial_frames)):
                out[k] = istft(image, o.n_fft, o.hop, n)
            return out
        # the masks sum to one, so the last stem is the mixture less the others (to float
        # precision): one inverse STFT fewer
        for k, mask in enumerate(masks[:-1]):
            out[k] = istft(mask[None] * x, o.n_fft, o.hop, n)
        out[-1] = audio - out[:-1].sum(0)
        return out
