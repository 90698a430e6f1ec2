"""``stemma train codec``: pre-train the BEST-RQ teacher, then train the codec.

    stemma train codec --preset small --data cache48 --out runs/codec --steps 20000

- Data: single-stem crops (each of the four stems is its own example) from a folder in the
  MUSDB18-HQ layout (``stemma synth-songs DIR --training --rate 48000``), mono, with the
  paper's augmentations; silent crops are skipped.
- Teacher: ``--teacher-steps`` of BEST-RQ masked prediction, then frozen.
- Codec: multi-resolution mel + STFT losses, commitment, semantic feature regression; half
  the batches use a random number of RVQ levels (quantizer dropout) so decoding from 1, 4 or 8
  levels works too. No adversarial loss.
- bf16 autocast on the CPU (about 2.5x faster with AMX), AdamW, warm-up then cosine decay.
- Resumable: ``OUT/last.pt`` (model, optimizer, step) every ``--ckpt-every`` steps; a rerun
  with the same ``--out`` continues. ``OUT/codec.safetensors`` holds the latest weights.
- DDP when launched with ``torchrun --nproc-per-node N -m engine train codec ...``.
- Logs: one JSON line per ``--log-every`` steps in ``OUT/log.jsonl`` (losses, learning rate,
  speed, and every fourth line the perplexity and fraction used of each RVQ level).
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

from ..nn.codec import Codec, codec_config
from .data import DataConfig, FolderStems
from .losses import MultiResolutionLoss
from .runs import RunLog, distributed, learning_rate, resume, save_checkpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodecTrainConfig:
    preset: str = "small"
    data: str = "cache48"  # MUSDB-layout folder of training songs
    out: str = "runs/codec"
    steps: int = 20000  # codec optimizer steps
    teacher_steps: int = 2000  # BEST-RQ steps before the codec (0: keep the teacher as is)
    batch_size: int = 16  # single-stem crops per step (per process)
    segment_s: float = 1.28  # crop length: 16 codec frames
    lr: float = 5e-4
    warmup: int = 500
    quantizer_dropout: float = 0.5  # share of batches with a random number of levels
    mel_weight: float = 1.0
    stft_weight: float = 1.0
    commit_weight: float = 0.25
    semantic_weight: float = 1.0
    bf16: bool = True
    log_every: int = 25
    ckpt_every: int = 500
    seed: int = 0
    workers: int = 1  # DataLoader workers


def stem_batches(folder: str, cfg: CodecTrainConfig, sample_rate: int, rank: int
                 ) -> Iterator[torch.Tensor]:
    """Endless (B, N) batches of non-silent single-stem crops."""
    data = DataConfig(sample_rate=sample_rate, segment_s=cfg.segment_s, mono=True,
                      seed=cfg.seed * 1000 + rank, skip_silent_vocals=0.0)
    loader = DataLoader(FolderStems(folder, data, remix=0.5), batch_size=None,
                        num_workers=cfg.workers, persistent_workers=cfg.workers > 0)
    pending: list[torch.Tensor] = []
    for item in loader:
        for stem in item["stems"][:, 0]:
            if stem.pow(2).mean().sqrt() > 1e-3:
                pending.append(stem)
        while len(pending) >= cfg.batch_size:
            yield torch.stack(pending[:cfg.batch_size])
            pending = pending[cfg.batch_size:]


def _lr(step: int, cfg: CodecTrainConfig, total: int) -> float:
    return learning_rate(step, cfg.lr, cfg.warmup, total, floor=0.1)


def pretrain_teacher(model: Codec, batches: Iterator[torch.Tensor], cfg: CodecTrainConfig,
                     log_line: RunLog) -> None:
    """Set the teacher's mel statistics from data, then BEST-RQ for ``teacher_steps``."""
    teacher = model.teacher
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
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            loss = teacher.masked_prediction_loss(mel)
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg, cfg.teacher_steps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % cfg.log_every == 0:
            log_line(phase="teacher", step=step, loss=loss.item(),
                     seconds=time.perf_counter() - start)
    teacher.requires_grad_(False)
    teacher.eval()


def train_codec(cfg: CodecTrainConfig) -> Path:
    rank, world = distributed()
    torch.manual_seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    log_line = RunLog(out / "log.jsonl", rank == 0)
    arch = codec_config(cfg.preset)
    model = Codec(arch)
    losses = MultiResolutionLoss(arch.sample_rate)
    trainable = [p for n, p in model.named_parameters() if not n.startswith("teacher.")]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, betas=(0.8, 0.99), weight_decay=0.01)
    batches = stem_batches(cfg.data, cfg, arch.sample_rate, rank)
    step = resume(out, model, opt)
    if step:
        log_line(phase="resume", step=step)
    elif cfg.teacher_steps:
        pretrain_teacher(model, batches, cfg, log_line)
    model.teacher.requires_grad_(False)
    model.teacher.eval()
    net = DistributedDataParallel(model) if world > 1 else model
    rng = np.random.default_rng(cfg.seed + rank)
    start, done = time.perf_counter(), 0
    while step < cfg.steps:
        audio = next(batches)
        n_levels = None
        if rng.random() < cfg.quantizer_dropout:
            n_levels = int(rng.integers(1, arch.n_levels + 1))
        model.train()
        model.teacher.eval()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            result = net(audio, n_levels)
        recon = losses(result.audio, audio)
        semantic = 1 - torch.nn.functional.cosine_similarity(
            result.semantic_pred.float(), result.semantic_target.float(), dim=-1).mean()
        loss = (cfg.mel_weight * recon["mel"] + cfg.stft_weight * (recon["sc"] + recon["mag"])
                + cfg.commit_weight * result.commit + cfg.semantic_weight * semantic)
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg, cfg.steps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        step += 1
        done += 1
        if step % cfg.log_every == 0:
            record = dict(phase="codec", step=step, loss=loss.item(), mel=recon["mel"].item(),
                          sc=recon["sc"].item(), mag=recon["mag"].item(),
                          commit=result.commit.item(), semantic=semantic.item(),
                          lr=opt.param_groups[0]["lr"],
                          steps_per_s=done / (time.perf_counter() - start))
            if step % (4 * cfg.log_every) == 0:
                record["acoustic_usage"] = [[round(p, 1), round(u, 3)]
                                            for p, u in model.acoustic_rvq.usage()]
                record["semantic_usage"] = [[round(p, 1), round(u, 3)]
                                            for p, u in model.semantic_rvq.usage()]
            log_line(**record)
        if rank == 0 and (step % cfg.ckpt_every == 0 or step == cfg.steps):
            save_checkpoint(out, step, model, opt, "codec", arch.to_dict(), cfg)
    if world > 1:
        dist.destroy_process_group()
    return out / "codec.safetensors"
