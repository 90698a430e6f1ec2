"""``stemma-lab train codec``: pre-train the BEST-RQ teacher, then train the codec.

    stemma-lab train codec --preset small --data cache48 --out runs/codec --steps 20000
    stemma-lab train codec --preset small --data clips.npz --out runs/codec      # a clip pack

- Data: single-stem crops (each of the four stems is its own example), mono, with the paper's
  augmentations; silent crops are skipped. Either a folder in the MUSDB18-HQ layout
  (``stemma-lab synth-songs DIR --training --rate 48000``), read by DataLoader workers, or a clip
  pack (``clips.py``), decoded once onto the training device and cropped there.
- Teacher: ``--teacher-steps`` of BEST-RQ masked prediction, then frozen.
- Codec: multi-resolution mel + STFT losses, commitment, semantic feature regression; 30% of
  the batches use a random number of RVQ levels (quantizer dropout) so decoding from 1, 4 or 8
  levels works too. No adversarial loss.
- Runs on CUDA when there is a GPU (``--device``), else the CPU; bf16 autocast where the
  hardware computes bf16 natively (``runs.use_bf16``). AdamW, warm-up then cosine decay.
- Resumable: ``OUT/last.pt`` (model, optimizer, step) every ``--ckpt-every`` steps; a rerun
  with the same ``--out`` continues. ``OUT/codec.safetensors`` holds the latest weights.
- DDP when launched with ``torchrun --nproc-per-node N -m engine train codec ...``.
- Logs: one JSON line per ``--log-every`` steps in ``OUT/log.jsonl`` (losses, learning rate,
  speed, and every fourth line the perplexity and fraction used of each RVQ level).
- ``--minutes`` bounds the run by wall time (a lent GPU's lease); ``--val-data`` (a clip pack
  of held-out stems) is scored at every checkpoint and ``OUT/codec_best.safetensors`` keeps
  the weights with the lowest held-out mel distance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from engine.nn.serialization import save_model

from ..nn.codec import Codec, codec_config
from .clips import SILENT_RMS, ClipBank
from .data import DataConfig, FolderStems
from .losses import MultiResolutionLoss
from .runs import (
    Budget,
    RunLog,
    distributed,
    learning_rate,
    optimizer_step,
    resume,
    save_checkpoint,
    stop,
    train_device,
    use_bf16,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodecTrainConfig:
    preset: str = "small"
    data: str = "cache48"  # MUSDB-layout folder of training songs, or a clip pack (.npz)
    val_data: str = ""  # clip pack of held-out stems: scored at checkpoints, best kept
    out: str = "runs/codec"
    steps: int = 20000  # codec optimizer steps
    minutes: float = 0.0  # or stop after this much training time (0: no limit), see Budget
    teacher_steps: int = 2000  # BEST-RQ steps before the codec (0: keep the teacher as is)
    batch_size: int = 16  # single-stem crops per step (per process)
    segment_s: float = 4.0  # crop length: 50 codec frames, the separator's window, so the
    #                         codec's attention sees at run time the lengths it trained on
    lr: float = 5e-4
    warmup: int = 500
    quantizer_dropout: float = 0.3  # share of batches with a random number of levels (fewer
    #                                 than the usual 0.5: short runs favour the full 16 levels)
    mel_weight: float = 1.0
    stft_weight: float = 1.0
    commit_weight: float = 0.25
    semantic_weight: float = 1.0
    bf16: str = "auto"  # bfloat16 autocast: auto (where the hardware has it), on, off
    device: str = "auto"  # auto (CUDA if there is a GPU), cpu or cuda
    log_every: int = 25
    ckpt_every: int = 500
    seed: int = 0
    workers: int = 1  # DataLoader workers (song folders only)


def _song_stems(folder: str, cfg: CodecTrainConfig, sample_rate: int, rank: int
                ) -> Iterator[torch.Tensor]:
    """Single-stem (N,) crops from a folder of songs: each song crop gives four examples."""
    data = DataConfig(sample_rate=sample_rate, segment_s=cfg.segment_s, mono=True,
                      seed=cfg.seed * 1000 + rank, skip_silent_vocals=0.0)
    loader = DataLoader(FolderStems(folder, data, remix=0.5), batch_size=None,
                        num_workers=cfg.workers, persistent_workers=cfg.workers > 0)
    for item in loader:
        for stem in item["stems"][:, 0]:
            if stem.pow(2).mean().sqrt() > SILENT_RMS:
                yield stem


def stem_batches(cfg: CodecTrainConfig, sample_rate: int, rank: int,
                 device: torch.device) -> Iterator[torch.Tensor]:
    """Endless (B, N) batches of non-silent single-stem crops on ``device``."""
    if cfg.data.endswith(".npz"):
        bank = ClipBank(cfg.data, cfg.segment_s, sample_rate, device, seed=cfg.seed * 1000 + rank)
        log.info("%s: %d clips", cfg.data, len(bank))
        while True:
            yield bank.batch(cfg.batch_size)
    crops = _song_stems(cfg.data, cfg, sample_rate, rank)
    while True:
        yield torch.stack([next(crops) for _ in range(cfg.batch_size)]).to(device)




def pretrain_teacher(model: Codec, batches: Iterator[torch.Tensor], cfg: CodecTrainConfig,
                     log_line: RunLog) -> None:
    """Set the teacher's mel statistics from data, then BEST-RQ for ``teacher_steps``."""
    teacher = model.teacher
    device = next(model.parameters()).device
    bf16 = use_bf16(cfg.bf16, device)
    with torch.no_grad():
        mels = torch.cat([model._spectrum(next(batches))[1].reshape(-1, teacher.cfg.n_mels)
                          for _ in range(8)])
        teacher.mel_mean.copy_(mels.mean(0))
        teacher.mel_std.copy_(mels.std(0) + 1e-3)
    teacher.requires_grad_(True)
    teacher.train()
    params = [p for n, p in teacher.named_parameters() if not n.startswith("rpq")]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    start = time.perf_counter()
    for step in range(cfg.teacher_steps):
        with torch.no_grad():
            mel = model._spectrum(next(batches))[1]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = teacher.masked_prediction_loss(mel)
        optimizer_step(opt, loss, learning_rate(step, cfg.lr, cfg.warmup,
                                                 step / cfg.teacher_steps, floor=0.1))
        if step % cfg.log_every == 0:
            log_line(phase="teacher", step=step, loss=loss.item(),
                     seconds=time.perf_counter() - start)
    teacher.requires_grad_(False)
    teacher.eval()


@torch.no_grad()
def validate(model: Codec, crops: torch.Tensor, losses: MultiResolutionLoss) -> float:
    """Multi-resolution log-mel distance on fixed held-out crops, all levels, eval mode."""
    model.eval()
    total = 0.0
    for i in range(0, len(crops), 16):
        batch = crops[i:i + 16]
        total += losses(model(batch).audio, batch)["mel"].item() * len(batch)
    model.train()
    model.teacher.eval()
    return total / len(crops)


def _usage(model: Codec) -> dict:
    return {"acoustic_usage": [[round(p, 1), round(u, 3)] for p, u in model.acoustic_rvq.usage()],
            "semantic_usage": [[round(p, 1), round(u, 3)] for p, u in model.semantic_rvq.usage()]}


def train_codec(cfg: CodecTrainConfig) -> Path:
    rank, world = distributed()
    device = train_device(cfg.device)
    torch.manual_seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    log_line = RunLog(out / "log.jsonl", rank == 0)
    arch = codec_config(cfg.preset)
    model = Codec(arch).to(device)
    losses = MultiResolutionLoss(arch.sample_rate).to(device)
    trainable = [p for n, p in model.named_parameters() if not n.startswith("teacher.")]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, betas=(0.8, 0.99), weight_decay=0.01)
    batches = stem_batches(cfg, arch.sample_rate, rank, device)
    step = resume(out, model, opt)
    if step:
        log_line(phase="resume", step=step)
    elif cfg.teacher_steps:
        pretrain_teacher(model, batches, cfg, log_line)
    model.teacher.requires_grad_(False)
    model.teacher.eval()
    net = DistributedDataParallel(model) if world > 1 else model
    rng = np.random.default_rng(cfg.seed + rank)
    budget = Budget(cfg.steps, cfg.minutes, cfg.warmup)
    bf16 = use_bf16(cfg.bf16, device)
    held_out = None
    if cfg.val_data:
        held_out = ClipBank(cfg.val_data, cfg.segment_s, arch.sample_rate, device, seed=1,
                            augment=False).batch(64)
    best = float("inf")
    start, done = time.perf_counter(), 0
    while not stop(budget, step, world):
        audio = next(batches)
        n_levels = None
        if rng.random() < cfg.quantizer_dropout:
            n_levels = int(rng.integers(1, arch.n_levels + 1))
        model.train()
        model.teacher.eval()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            result = net(audio, n_levels)
        recon = losses(result.audio, audio)
        semantic = 1 - torch.nn.functional.cosine_similarity(
            result.semantic_pred.float(), result.semantic_target.float(), dim=-1).mean()
        loss = (cfg.mel_weight * recon["mel"] + cfg.stft_weight * (recon["sc"] + recon["mag"])
                + cfg.commit_weight * result.commit + cfg.semantic_weight * semantic)
        optimizer_step(opt, loss, learning_rate(step, cfg.lr, cfg.warmup, budget.progress(step),
                                                 floor=0.1), clip=trainable)
        step += 1
        done += 1
        if step % cfg.log_every == 0:
            record = dict(phase="codec", step=step, loss=loss.item(), mel=recon["mel"].item(),
                          sc=recon["sc"].item(), mag=recon["mag"].item(),
                          commit=result.commit.item(), semantic=semantic.item(),
                          lr=opt.param_groups[0]["lr"],
                          steps_per_s=done / (time.perf_counter() - start))
            if step % (4 * cfg.log_every) == 0:
                record.update(_usage(model))
            log_line(**record)
        if rank == 0 and step % cfg.ckpt_every == 0:
            best = _checkpoint(out, step, model, opt, cfg, held_out, losses, best, log_line)
    if rank == 0 and step % cfg.ckpt_every:  # the last step, unless just saved
        _checkpoint(out, step, model, opt, cfg, held_out, losses, best, log_line)
    if world > 1:
        dist.destroy_process_group()
    return out / "codec.safetensors"


def _checkpoint(out: Path, step: int, model: Codec, opt: torch.optim.Optimizer,
                cfg: CodecTrainConfig, held_out: torch.Tensor | None,
                losses: MultiResolutionLoss, best: float, log_line: RunLog) -> float:
    """Save the run; score the held-out crops and keep the best weights. -> best distance."""
    save_checkpoint(out, step, model, opt, "codec", model.cfg.to_dict(), cfg)
    if held_out is None:
        return best
    distance = validate(model, held_out, losses)
    log_line(phase="val", step=step, val_mel=distance)
    if distance < best:
        save_model(out / "codec_best.safetensors", model.state_dict(), "codec",
                   model.cfg.to_dict())
        return distance
    return best
