"""``tokenlm``: the paper's separator as an engine backend ("Discrete Token Modeling for
Multi-Stem Music Source Separation with Language Models", Lyu et al., arXiv:2604.09371,
sections 2.2 to 2.5).

Per chunk of audio (at 48 kHz; the engine resamples around it):

1. the mono mixture is cut into 4 s windows that overlap by ``overlap_frames`` codec frames;
2. the conditional encoder (ONNX) turns every window into the LM's continuous prefix;
3. the token LM (torch) generates vocals, drums, bass and other one after another for all
   windows at once, its key/value cache kept across the four tracks (greedy by default, or
   top-k/temperature sampling from a seeded generator);
4. the codec decoder (ONNX) turns each track's tokens back into audio, and the windows are
   crossfaded into four raw stems;
5. refinement (on by default, beyond the paper): generated stems are not sample-aligned with
   the mixture and are mono, so their smoothed power spectra become the priors of a
   multichannel Wiener filter on the real stereo mixture; the result is aligned, stereo, and
   sums to the mix. With ``refine`` off the raw generative output is returned as it is.
   Where the model ships ``prior_gains.safetensors`` (``stemma-lab calibrate``), each stem's
   power spectrum is first scaled by its gain at each frequency: the ratio of true to
   generated power, fitted on held-out songs, which undoes the model's and its codec's
   systematic colouring (generated bass, for one, comes out too weak below 250 Hz).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.ndimage as ndi
import torch

from ..dsp.filters import mean_time
from ..dsp.stft import istft, stft
from ..dsp.wiener import wiener
from ..errors import ModelError
from ..nn.layout import TRACKS, deinterleave
from ..nn.lm import LMConfig, TokenLM
from ..nn.serialization import load_model
from ..onnx_runtime import Session
from ..registry import ModelInfo
from .base import Backend, CheckCancel, ChunkPlan, OnFraction
from .options import for_model

log = logging.getLogger(__name__)
RATE = 48000
N_FFT, HOP = 4096, 1024  # refinement STFT at 48 kHz
REFINE_BLOCK = 469 * HOP  # refine in 10 s blocks: memory follows the block, not the chunk
#   (a whole 3-minute chunk in one pass took 5.6 GB); a cancel is checked between its steps
REFINE_BINS = 512  # frequency bins per Wiener step within a block
BATCH = 8  # windows per conditioner call: its workspace grows with the batch, 8 fills the cores
DECODE_BATCH = 4  # (window, track) pairs per codec decoder call (~0.2 s each): prompt cancel
# Relative cost of the stages, in seconds of one core: per window for conditioning, the LM (at
# a batch of ~20 windows) and decoding its four tracks, per second of audio for refinement.
# Only the pace of the progress bar depends on them.
COST_CONDITION, COST_LM, COST_DECODE, COST_REFINE = 0.02, 0.65, 0.16, 0.08


class _Meter:
    """Counts a chunk's work units, reports the share done, and checks for a cancel at every
    count, so long loops stay cancellable wherever they advance the meter."""

    def __init__(self, total: float, check_cancel: CheckCancel,
                 on_fraction: OnFraction | None):
        self.total, self.done = max(total, 1e-9), 0.0
        self.check_cancel, self.on_fraction = check_cancel, on_fraction

    def advance(self, units: float) -> None:
        self.check_cancel()
        if units:
            self.done += units
            if self.on_fraction is not None:
                self.on_fraction(min(1.0, self.done / self.total))


@dataclass(frozen=True)
class RefineConfig:
    """How generated stems become Wiener priors (manifest params; tuned on validation songs)."""

    prior_frames: int = 3  # smooth priors over time (~70 ms): generated stems are not
    #                        sample-aligned with the mixture
    prior_bins: int = 1  # and over frequency (1: not at all; 11.7 Hz per bin)
    prior_power: float = 1.0  # priors raised to this: below 1 softens the masks
    spatial_frames: int = 87  # Wiener covariances averaged over ~1.9 s
    mean_exponent: float = 2.0  # the generations' spectra averaged as (mean |X|^e)^(2/e):
    #                             2 their power, 1 their magnitude; below 2 one loud
    #                             outlier among them sways the prior less
    gains: np.ndarray | None = field(default=None, compare=False)  # (4, N_FFT // 2 + 1):
    #                                  per stem and bin, or None (see PRIOR_GAINS)

    @property
    def margin(self) -> int:
        """Samples of context a block needs so blocks give what one pass would: twice the
        filter's reach in frames (covariance and prior smoothing, the window) on the hop grid."""
        return (self.spatial_frames + self.prior_frames + 2 * N_FFT // HOP) * HOP


def generation_power(raw: np.ndarray, exponent: float = 2.0,
                     check: Callable[[], None] = lambda: None) -> np.ndarray:
    """(K, S, N) generations of S stems (or (S, N): one) -> (S, T, F) float32: per stem and
    STFT bin, the power mean of the K generations' magnitudes with ``exponent``,
    ``(mean_k |X_k|^e)^(2/e)``: their average power for 2, the square of their average
    magnitude for 1. ``check()`` runs after each spectrum."""
    samples = raw if raw.ndim == 3 else raw[None]
    power = None
    for k in range(samples.shape[1]):
        for sample in samples[:, k]:
            magnitude = np.abs(stft(sample[None], N_FFT, HOP)[0])
            if power is None:
                power = np.zeros((samples.shape[1],) + magnitude.shape, np.float32)
            power[k] += magnitude ** 2 if exponent == 2.0 else magnitude ** exponent
            check()
    power /= len(samples)
    if exponent != 2.0:
        np.power(power, 2.0 / exponent, out=power)
    return power


def _refine_block(audio: np.ndarray, raw: np.ndarray, cfg: RefineConfig,
                  check: Callable[[], None]) -> np.ndarray:
    """(C, N) mixture, (4, N) raw stems (or (K, 4, N): K generations, whose power spectra
    are averaged) -> (4, C, N) Wiener-filtered stems; ``check()`` (a cancel check) runs
    between its steps, a few dozen times per block."""
    n = audio.shape[1]
    x = stft(audio, N_FFT, HOP)  # (C, T, F)
    check()
    power = generation_power(raw, cfg.mean_exponent, check)
    if cfg.gains is not None:
        power *= cfg.gains[:, None, :]
    priors = mean_time(power, cfg.prior_frames)
    if cfg.prior_bins > 1:
        priors = ndi.uniform_filter1d(priors, cfg.prior_bins, axis=-1, mode="nearest")
    np.maximum(priors, 0.0, out=priors)  # the running sums of the filters leave -1e-12s
    if cfg.prior_power != 1.0:
        priors = priors ** cfg.prior_power
    # The filter works bin by bin, so it runs on bands of bins with a check between them.
    images = np.empty((len(power),) + x.shape, np.complex64)
    for f0 in range(0, x.shape[-1], REFINE_BINS):
        band = slice(f0, f0 + REFINE_BINS)
        for k, image in enumerate(wiener(x[..., band], priors[..., band] + 1e-9,
                                         cfg.spatial_frames, check)):
            images[k, ..., band] = image
    out = np.empty((len(power),) + audio.shape, np.float32)
    for k in range(len(power)):
        check()
        out[k] = istft(images[k], N_FFT, HOP, n)
    return out


def wiener_refine(audio: np.ndarray, raw: np.ndarray, cfg: RefineConfig = RefineConfig(),
                  block: int = REFINE_BLOCK,
                  on_block: Callable[[float], None] | None = None) -> np.ndarray:
    """Raw stems as spectral priors for a multichannel Wiener filter on the real mixture:
    (C, N) mixture, (4, N) raw mono stems -> (4, C, N) stems, aligned with the mixture, in its
    channels, and summing to it exactly (the last stem takes the remainder). Processed in
    blocks on the STFT's hop grid (``block`` a multiple of ``HOP``); ``on_block(seconds)``
    runs before each block and between its steps (with 0), and after it (with the seconds it
    finished): progress, and a cancel check that may raise."""
    n, margin = audio.shape[1], cfg.margin
    check = (lambda: on_block(0.0)) if on_block is not None else (lambda: None)
    out = np.empty((raw.shape[-2],) + audio.shape, np.float32)
    for start in range(0, n, block):
        check()
        lo, hi, end = max(0, start - margin), min(n, start + block + margin), min(n, start + block)
        part = _refine_block(audio[:, lo:hi], raw[..., lo:hi], cfg, check)
        out[:, :, start:end] = part[:, :, start - lo:end - lo]
        if on_block is not None:
            on_block((end - start) / RATE)
    out[-1] = audio - out[:-1].sum(axis=0)
    return out


PRIOR_GAINS = "prior_gains.safetensors"  # optional model file: "gains", (4, N_FFT // 2 + 1)


def load_prior_gains(info: ModelInfo) -> np.ndarray | None:
    """The model's per-stem, per-bin prior gains (a model file of kind "prior_gains"), or
    None where it ships none."""
    if not any(f.path == PRIOR_GAINS for f in info.files):
        return None
    path = info.file(PRIOR_GAINS)
    try:
        kind, _, state = load_model(path)
        if kind != "prior_gains":
            raise ValueError(f"it holds a {kind}")
        gains = state["gains"].numpy()
    except Exception as err:  # noqa: BLE001  (any unreadable file is the model's fault)
        raise ModelError(f"cannot read the prior gains ({err})", path) from err
    if gains.shape != (len(TRACKS), N_FFT // 2 + 1) or not np.all(np.isfinite(gains)) \
            or np.any(gains <= 0):
        raise ModelError(f"prior gains must be {len(TRACKS)} x {N_FFT // 2 + 1} positive "
                         f"numbers (found shape {gains.shape})", path)
    return gains


def _fades(n: int) -> np.ndarray:
    return (np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2).astype(np.float32)


class TokenLMBackend(Backend):
    def __init__(self, info: ModelInfo, device: str, options: dict | None = None):
        from ..neural_codec import NeuralCodec

        o = for_model(info, options)
        self.stems = tuple(info.stems)
        if self.stems != TRACKS:
            raise ModelError(f"a tokenlm model generates {', '.join(TRACKS)} in that order; "
                             f"the manifest says {', '.join(self.stems)}", info.folder)
        self.window_frames, self.overlap_frames = o.window_frames, o.overlap_frames
        self.refine = o.refine
        self.refine_cfg = RefineConfig(o.prior_frames, o.prior_bins, o.prior_power,
                                       o.spatial_frames, o.mean_exponent,
                                       load_prior_gains(info) if o.calibrated else None)
        self.temperature, self.top_k, self.seed, self.chunk_s = (o.temperature, o.top_k,
                                                                 o.seed, o.chunk_s)
        self.samples = o.samples if o.refine else 1  # only the refinement averages them
        self.torch_device = torch.device("cuda" if device == "cuda" else "cpu")
        self.codec = NeuralCodec(o.codec, device=device)
        self.frame_samples = self.codec.frame_samples
        self.conditioner = Session(info.file("conditioner.onnx"), device)
        kind, config, state = load_model(info.file("separator.safetensors"))
        if kind != "separator":
            raise ModelError(f"separator.safetensors holds a {kind}", info.folder)
        self.lm = TokenLM(LMConfig(**config["lm"]))  # the conditioner runs as ONNX
        self.lm.load_state_dict({k.removeprefix("lm."): v for k, v in state.items()
                                 if k.startswith("lm.")})
        self.lm.eval().to(self.torch_device)
        if o.compile and self.torch_device.type == "cuda":
            self.lm.decode_one_token = torch.compile(self.lm.decode_one_token)
        log.info("tokenlm: conditioner on %s, codec on %s, LM on %s",
                 self.conditioner.provider, self.codec.provider, self.torch_device)

    @property
    def device(self) -> str:
        return self.torch_device.type

    @property
    def placement(self) -> str:
        return (f"LM: torch on {self.torch_device.type}; conditioner: "
                f"{self.conditioner.provider}; codec decoder: {self.codec.provider}")

    @property
    def max_workers(self) -> int:
        """One chunk at a time: a chunk's windows are one batch that fills the cores, and a
        second 3-minute chunk alongside would double the memory for no speed."""
        return 1

    @property
    def mixture_consistent(self) -> bool:
        return self.refine

    def working_rate(self, input_rate: int) -> int:
        return RATE

    def plan(self, sample_rate: int) -> ChunkPlan:
        """Big chunks: every window of a song's chunk is generated in one batch."""
        fs = self.frame_samples
        chunk = int(self.chunk_s * RATE) // fs * fs
        return ChunkPlan(chunk=chunk, context=2 * RATE // fs * fs, align=fs, crossfade=RATE // 2)

    # --- generation ----------------------------------------------------------------------

    def _windows(self, n: int) -> list[int]:
        width = self.window_frames * self.frame_samples
        hop = (self.window_frames - self.overlap_frames) * self.frame_samples
        starts = list(range(0, max(1, n - width + hop), hop))
        return starts if starts else [0]

    def _generate(self, batch: np.ndarray, meter: _Meter) -> np.ndarray:
        """(W, width) mixture windows -> (K, W, 4, width) decoded stems, K = ``samples``
        generations of each window, all in one LM batch. The cancel check runs before every
        LM step and every graph call: a cancel lands within one of them."""
        prefix = []
        for i in range(0, len(batch), BATCH):
            meter.advance(0)
            prefix.append(self.conditioner(batch[i:i + BATCH])[0])
            meter.advance(COST_CONDITION * len(batch[i:i + BATCH]))
        prefix = torch.from_numpy(np.concatenate(prefix)).to(self.torch_device)
        prefix = prefix.repeat(self.samples, 1, 1)  # row k * W + i: window i, generation k
        step_cost = COST_LM * len(prefix) / self.lm.n_steps(prefix.shape[1])
        generator = torch.Generator(self.torch_device).manual_seed(self.seed)
        tokens = self.lm.generate(prefix, self.temperature, self.top_k, generator,
                                  on_step=lambda: meter.advance(step_cost))
        pairs = deinterleave(tokens).cpu().numpy()  # (W, T, 2, L, S)
        pairs = pairs.reshape((-1,) + pairs.shape[2:])  # (W * T, 2, L, S)
        decoded = []
        for i in range(0, len(pairs), DECODE_BATCH):
            meter.advance(0)
            decoded.append(self.codec.decoder(pairs[i:i + DECODE_BATCH])[0])
            meter.advance(COST_DECODE / len(TRACKS) * len(pairs[i:i + DECODE_BATCH]))
        return np.concatenate(decoded).reshape(self.samples, len(batch), len(TRACKS), -1)

    def generations(self, mono: np.ndarray, check_cancel: CheckCancel,
                    on_fraction: OnFraction | None = None) -> np.ndarray:
        """(N,) mono mixture at 48 kHz -> (K, 4, N) generated stems, windows crossfaded, K =
        ``samples`` (1 with ``refine`` off; the first is the raw output). Every window of the
        chunk is generated in one batch, and the LM batch holds every window with its own
        positions and cache rows: window k's tokens depend on window k only."""
        meter = _Meter(self._cost(len(mono), refine=False), check_cancel, on_fraction)
        return self._raw(mono, meter)

    def _raw(self, mono: np.ndarray, meter: _Meter) -> np.ndarray:
        n, fs = len(mono), self.frame_samples
        width = self.window_frames * fs
        starts = self._windows(n)
        batch = np.zeros((len(starts), width), np.float32)
        for i, s in enumerate(starts):
            piece = mono[s:s + width]
            batch[i, :len(piece)] = piece
        decoded = self._generate(batch, meter)
        overlap = self.overlap_frames * fs
        fade_in = _fades(overlap) if overlap else np.ones(0, np.float32)
        out = np.zeros((self.samples, len(TRACKS), starts[-1] + width), np.float32)
        weight = np.zeros(starts[-1] + width, np.float32)
        envelope = np.ones(width, np.float32)
        if overlap:
            envelope[:overlap] = fade_in
            envelope[-overlap:] = fade_in[::-1]
        for i, s in enumerate(starts):
            meter.advance(0)  # overlap-adding a 60 s chunk takes up to a second: stay cancellable
            env = envelope.copy()
            if i == 0:
                env[:overlap] = 1.0
            if i == len(starts) - 1:
                env[width - overlap:] = 1.0
            out[..., s:s + width] += env * decoded[:, i, :, :width]
            weight[s:s + width] += env
        meter.advance(0)
        out = out[..., :n]
        out /= np.maximum(weight[:n], 1e-6)  # in place: no second copy of the chunk
        return out

    def _cost(self, n: int, refine: bool) -> float:
        """Work units of a chunk of ``n`` samples: generation per window, refinement per
        second (only the progress bar's pace depends on these)."""
        windows = len(self._windows(n))
        cost = windows * (COST_CONDITION + self.samples * (COST_LM + COST_DECODE))
        return cost + (COST_REFINE * n / RATE if refine else 0.0)

    def separate_chunk(self, audio: np.ndarray, sample_rate: int, check_cancel: CheckCancel,
                       on_fraction: OnFraction | None = None) -> np.ndarray:
        meter = _Meter(self._cost(audio.shape[1], self.refine), check_cancel, on_fraction)
        raw = self._raw(audio.mean(axis=0), meter)  # (K, 4, N)
        if self.refine:
            return wiener_refine(audio, raw, self.refine_cfg, on_block=lambda seconds:
                                 meter.advance(COST_REFINE * seconds))
        return np.repeat(raw[0][:, None], audio.shape[0], axis=1)
