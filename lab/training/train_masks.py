"""``stemma-lab train bandsplit``: train the band-split mask model (``lab.nn.bandsplit``).

    stemma-lab train bandsplit --preset small --data cache44 --val-data val44 --out runs/masks \\
        --minutes 180

- Data: random stereo crops of songs in the MUSDB18-HQ layout (``FolderStems``), resampled to
  the model's rate, with the paper's per-stem gain, polarity and EQ augmentations; ``--remix``
  of the crops take every stem from a different song (new combinations the songs never had);
  ``--codec-probability`` and ``--rate-probability`` of the mixtures go through an MP3/AAC round
  trip or a lower sample rate, as real files have (the target stems stay clean).
- Loss: L1 between masked mixture magnitudes and the true stems' (``separation_loss``).
- Held-out scoring at every checkpoint: fixed crops of ``--val-data`` songs, separated by the
  masks (no Wiener step), scored by SDR over all crops together (energies summed, like the
  evaluation's uSDR over a song), averaged over stems; ``OUT/masks_best.safetensors`` keeps
  the weights that score best, and every score is logged with the training minutes so far:
  the learning curve.
- ``--ema DECAY``: a moving average of the weights (``WeightAverage``) is kept beside them
  (``OUT/ema.safetensors``, resumed with the run); every checkpoint scores both, and
  ``masks_best.safetensors`` keeps whichever of the two scores best.
- ``--init`` weights of a smaller preset are grown into ``--preset`` (``grow``): the larger
  model starts with the smaller one's masks.
- CUDA when there is a GPU, bf16 autocast where the hardware computes it, AdamW with warm-up
  and cosine decay over ``--steps`` or ``--minutes``, resumable from ``OUT/last.pt``, or
  started from ``--init`` weights (a session continues from the shipped model).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
import torch
from torch.utils.data import DataLoader

from engine.nn.serialization import load_model, save_model

from ..musdb import STEMS, load_track_sets
from ..nn.bandsplit import (
    BandSplitConfig,
    BandSplitRoFormer,
    apply_masks,
    bandsplit_config,
    grow,
    separation_loss,
    spectrogram,
    waveform,
)
from .data import DataConfig, FolderStems
from .runs import (
    Budget,
    RunLog,
    WeightAverage,
    learning_rate,
    optimizer_step,
    resume,
    save_checkpoint,
    train_device,
    use_bf16,
)


@dataclass(frozen=True)
class MaskTrainConfig:
    preset: str = "small"
    data: str = "runs/songs"  # training songs, MUSDB18-HQ layout (any rate; resampled); a,b: both
    val_data: str = ""  # held-out songs ("" for none); a,b: both
    out: str = "runs/masks"
    init: str = ""  # weights to start from when OUT has no checkpoint (e.g. the shipped ones)
    steps: int = 20000
    minutes: float = 0.0  # or stop after this much training time (0: no limit)
    batch_size: int = 16
    segment_s: float = 3.0  # crop length in seconds
    remix: float = 0.5  # share of crops mixing stems of different songs
    codec_probability: float = 0.0  # share of mixtures sent through MP3/AAC (lab.training.degrade)
    rate_probability: float = 0.0  # share of mixtures once stored at 16-32 kHz
    lr: float = 5e-4
    warmup: int = 200
    weight_decay: float = 0.01
    bf16: str = "auto"
    device: str = "auto"
    log_every: int = 25
    ckpt_every: int = 250
    val_crops: int = 3  # held-out crops per song
    val_segment_s: float = 3.0  # as long as the windows the engine gives the model
    seed: int = 0
    workers: int = 0
    ema: float = 0.0  # decay of a moving average of the weights, scored beside them (0: none;
    # 0.998 averages over about the last 500 steps)


def held_out_crops(folder: str | Path, sample_rate: int, n_crops: int,
                   seconds: float) -> dict[str, torch.Tensor]:
    """Fixed crops from every held-out song, evenly spaced: {"mixture": (W, C, N),
    "stems": (W, S, C, N)} at ``sample_rate``."""
    mixes, stems = [], []
    n = int(seconds * sample_rate)
    for track in load_track_sets(folder):
        mixture, parts, sr = track.load()
        audio = np.stack([parts[s] for s in STEMS])  # (S, C, N)
        if sr != sample_rate:
            flat = audio.reshape(-1, audio.shape[-1]).T
            audio = soxr.resample(flat, sr, sample_rate).T.reshape(audio.shape[:2] + (-1,))
        if audio.shape[1] == 1:
            audio = np.repeat(audio, 2, axis=1)
        length = audio.shape[-1]
        for start in np.linspace(0, max(0, length - n), n_crops).astype(int):
            crop = np.zeros(audio.shape[:2] + (n,), np.float32)
            piece = audio[..., start:start + n]
            crop[..., :piece.shape[-1]] = piece
            stems.append(crop)
            mixes.append(crop.sum(0))
    return {"mixture": torch.from_numpy(np.stack(mixes)),
            "stems": torch.from_numpy(np.stack(stems))}


@torch.no_grad()
def validate(model: BandSplitRoFormer, crops: dict[str, torch.Tensor],
             batch_size: int = 4) -> dict[str, float]:
    """Held-out SDR per stem of the masked mixture, over all crops at once (signal and error
    energies summed before the ratio, as the evaluation's uSDR sums over a song: a crop where
    a stem is silent then weighs by its error, instead of dominating a mean of ratios)."""
    device = next(model.parameters()).device
    model.eval()
    signal = torch.zeros(model.cfg.n_stems)
    error = torch.zeros(model.cfg.n_stems)
    for i in range(0, len(crops["mixture"]), batch_size):
        mixture = crops["mixture"][i:i + batch_size].to(device)
        spec = spectrogram(mixture, model.cfg)
        audio = waveform(apply_masks(model(spec), spec), model.cfg, mixture.shape[-1])
        truth = crops["stems"][i:i + batch_size].to(device)
        signal += truth.pow(2).sum((0, 2, 3)).cpu()
        error += (truth - audio).pow(2).sum((0, 2, 3)).cpu()
    model.train()
    per_stem = 10 * torch.log10((signal + 1e-8) / (error + 1e-8))
    return {"val_usdr": per_stem.mean().item(),
            **{f"val_usdr_{name}": v.item() for name, v in zip(STEMS, per_stem, strict=True)}}


def _initialise(model: BandSplitRoFormer, path: str) -> None:
    """Start from ``path``'s weights; from a smaller model (another preset), grown into this
    one so that it starts with the same masks."""
    kind, arch, state = load_model(path)
    if kind != "masks":
        raise ValueError(f"{path} holds a {kind}, not a mask model")
    source = BandSplitConfig(**arch)
    if source == model.cfg:
        model.load_state_dict(state)
    else:
        grow(model, source, state)


def train_masks(cfg: MaskTrainConfig) -> Path:
    device = train_device(cfg.device)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    arch = bandsplit_config(cfg.preset)
    model = BandSplitRoFormer(arch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = resume(out, model, opt)
    if step == 0 and cfg.init:
        _initialise(model, cfg.init)
    average = _average(out, model, cfg.ema, step)
    log_line = RunLog(out / "log.jsonl")
    data = FolderStems(cfg.data, DataConfig(sample_rate=arch.sample_rate,
                                            segment_s=cfg.segment_s, mono=False,
                                            seed=cfg.seed * 1000 + step,
                                            codec_probability=cfg.codec_probability,
                                            rate_probability=cfg.rate_probability),
                        remix=cfg.remix)
    loader = iter(DataLoader(data, batch_size=cfg.batch_size, num_workers=cfg.workers))
    held_out = (held_out_crops(cfg.val_data, arch.sample_rate, cfg.val_crops,
                               cfg.val_segment_s) if cfg.val_data else None)
    best = _best_so_far(out)
    budget = Budget(cfg.steps, cfg.minutes, cfg.warmup)
    bf16 = use_bf16(cfg.bf16, device)
    start, done = time.perf_counter(), 0
    trained = _minutes_so_far(out)
    while not budget.done(step):
        batch = next(loader)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            losses = separation_loss(model, batch["mixture"].to(device),
                                     batch["stems"].to(device))
        optimizer_step(opt, losses["loss"], learning_rate(step, cfg.lr, cfg.warmup,
                                                           budget.progress(step), floor=0.05),
                       clip=model, max_norm=5.0)
        if average is not None:
            average.update()
        step += 1
        done += 1
        minutes = trained + (time.perf_counter() - start) / 60
        if step % cfg.log_every == 0:
            log_line(step=step, loss=losses["loss"].item(), lr=opt.param_groups[0]["lr"],
                     steps_per_s=done / (time.perf_counter() - start), minutes=minutes)
        if step % cfg.ckpt_every == 0 or budget.done(step):
            best = _checkpoint(out, step, model, opt, cfg, held_out, best, log_line, minutes,
                               average)
    return out / "masks.safetensors"


def _average(out: Path, model: BandSplitRoFormer, decay: float,
             step: int) -> WeightAverage | None:
    """The run's moving average of the weights: resumed at ``step`` from
    ``OUT/ema.safetensors`` (its warm-up as far on as the run), or started at the weights the
    run starts from."""
    if not decay:
        return None
    path = out / "ema.safetensors"
    if step and path.exists():
        return WeightAverage(model, decay, load_model(path)[2], updates=step)
    return WeightAverage(model, decay)


def _logged(out: Path, *keys: str) -> list[float]:
    """Every value of ``keys`` in the run's log (``OUT/log.jsonl``), earlier sessions too."""
    import json

    path = out / "log.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line[key] for line in lines for key in keys if line.get(key) is not None]


def _best_so_far(out: Path) -> float:
    """The best held-out uSDR logged by earlier sessions of this run (-inf if none)."""
    return max(_logged(out, "val_usdr", "ema_val_usdr"), default=float("-inf"))


def _minutes_so_far(out: Path) -> float:
    """Training minutes logged by earlier sessions of this run: the curve's time axis goes on."""
    return max(_logged(out, "minutes"), default=0.0)


def _checkpoint(out: Path, step: int, model: BandSplitRoFormer, opt: torch.optim.Optimizer,
                cfg: MaskTrainConfig, held_out: dict | None, best: float, log_line: RunLog,
                minutes: float, average: WeightAverage | None = None) -> float:
    """Save the run; score the held-out crops (the weights, and their average if the run keeps
    one) and keep the best weights. -> best uSDR."""
    arch = model.cfg.to_dict()
    save_checkpoint(out, step, model, opt, "masks", arch, cfg)
    candidates = {"": model.state_dict()}
    if average is not None:
        save_model(out / "ema.safetensors", average.state, "masks", arch)
        candidates["ema_"] = average.state
    if held_out is None:
        return best
    scores, judged = {}, copy.deepcopy(model)
    for prefix, state in candidates.items():
        judged.load_state_dict(state)
        scores |= {prefix + k: v for k, v in validate(judged, held_out).items()}
    log_line(step=step, minutes=minutes, **scores)
    prefix = max(candidates, key=lambda p: scores[p + "val_usdr"])
    if scores[prefix + "val_usdr"] > best:
        save_model(out / "masks_best.safetensors", candidates[prefix], "masks", arch)
        return scores[prefix + "val_usdr"]
    return best
