"""Short-time Fourier transform with exact reconstruction.

Layout is time-major: a spectrogram of a (C, N) signal is (C, T, F), frames by bins, so that
per-frame work reads contiguous memory. Frame ``t`` is centred on sample ``t * hop``, so two
signals that start on the same multiple of ``hop`` share one frame grid: this is what lets chunked
processing reproduce whole-file processing (issue 2, "no seams").
"""

from __future__ import annotations

import numpy as np
import scipy.fft

_WINDOWS: dict[int, np.ndarray] = {}


def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window, float32, cached."""
    if n_fft not in _WINDOWS:
        _WINDOWS[n_fft] = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(
            np.float32)
    return _WINDOWS[n_fft]


def n_frames(n_samples: int, hop: int) -> int:
    """Frames covering ``n_samples``: centres at 0, hop, ... up to the last sample."""
    return n_samples // hop + 1


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(..., N) float32 -> (..., T, F) complex64 with F = n_fft // 2 + 1.

    The signal is zero-padded by ``n_fft // 2`` on both sides so every sample is covered.
    ``hop`` must divide ``n_fft``.
    """
    n = x.shape[-1]
    pad = n_fft // 2
    t = n_frames(n, hop)
    padded = np.zeros(x.shape[:-1] + ((t - 1) * hop + n_fft,), dtype=np.float32)
    padded[..., pad:pad + n] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :]
    return scipy.fft.rfft(frames * hann(n_fft), axis=-1, workers=-1).astype(np.complex64,
                                                                            copy=False)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """(..., T, F) complex -> (..., length) float32; the exact inverse of :func:`stft`.

    Weighted overlap-add with the same Hann window, divided by the summed squared window, so a
    spectrogram that went through :func:`stft` unchanged comes back to float precision.
    """
    window = hann(n_fft)
    frames = scipy.fft.irfft(spec, n=n_fft, axis=-1, workers=-1).astype(np.float32, copy=False)
    frames *= window
    t = spec.shape[-2]
    ratio = n_fft // hop
    lead = spec.shape[:-2]
    # Overlap-add in hop-sized slots: slot s receives part j of frame s - j.
    parts = frames.reshape(lead + (t, ratio, hop))
    out = np.zeros(lead + (t + ratio - 1, hop), dtype=np.float32)
    for j in range(ratio):
        out[..., j:j + t, :] += parts[..., :, j, :]
    env = np.zeros((t + ratio - 1, hop), dtype=np.float32)
    wparts = (window * window).reshape(ratio, hop)
    for j in range(ratio):
        env[j:j + t] += wparts[j]
    out = out.reshape(lead + (-1,))
    env = env.reshape(-1)
    pad = n_fft // 2
    out = out[..., pad:pad + length]
    return out / np.maximum(env[pad:pad + length], 1e-8)
