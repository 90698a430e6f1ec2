"""``stemma train separator``: teacher-forced training of the token separator.

    stemma train separator --prepare --data cache48 --codec-weights runs/codec/codec.safetensors \\
        --tokens runs/tokens
    stemma train separator --preset small --tokens runs/tokens --out runs/sep --steps 4000
    stemma train separator --preset small --parallel ...     # ablation A3

``--prepare`` tokenizes the training songs once (``tokens.py``: three augmentation variants
per song). Training then reads random 4 s windows of mixture log-mel and stem tokens, and
minimises the LM's loss (per-level weights [2, 1, ..., 1], label smoothing 0.1). bf16 autocast
on the CPU, AdamW with warm-up and cosine decay, ``OUT/last.pt`` every ``--ckpt-every`` steps
(a rerun resumes), ``OUT/separator.safetensors`` with the latest weights, JSON-lines logs with
per-level accuracy, DDP under torchrun.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from ..nn.separator import TokenSeparator, separator_config
from .runs import RunLog, distributed, learning_rate, resume, save_checkpoint
from .tokens import TokenWindows


@dataclass(frozen=True)
class SeparatorTrainConfig:
    preset: str = "small"
    parallel: bool = False  # ablation A3
    tokens: str = "runs/tokens"  # prepared token files
    out: str = "runs/separator"
    steps: int = 4000
    batch_size: int = 8  # 4 s windows per step (per process)
    lr: float = 5e-4  # the paper's
    warmup: int = 200  # (the paper: 2000 of many more steps)
    weight_decay: float = 0.05
    bf16: bool = True
    log_every: int = 25
    ckpt_every: int = 250
    seed: int = 0
    workers: int = 0


def _lr(step: int, cfg: SeparatorTrainConfig) -> float:
    return learning_rate(step, cfg.lr, cfg.warmup, cfg.steps, floor=0.05)


def train_separator(cfg: SeparatorTrainConfig) -> Path:
    rank, world = distributed()
    torch.manual_seed(cfg.seed + rank)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    arch = separator_config(cfg.preset, cfg.parallel)
    model = TokenSeparator(arch)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95),
                            weight_decay=cfg.weight_decay)
    step = resume(out, model, opt)
    log_line = RunLog(out / "log.jsonl", rank == 0)
    # The sequential model never uses the per-track start tokens (A3 only).
    net = DistributedDataParallel(model, find_unused_parameters=True) if world > 1 else model
    data = TokenWindows(cfg.tokens, arch.window_frames, seed=cfg.seed * 1000 + rank + step)
    loader = iter(DataLoader(data, batch_size=cfg.batch_size, num_workers=cfg.workers))
    start, done = time.perf_counter(), 0
    while step < cfg.steps:
        batch = next(loader)
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            losses = net(batch["mel"], batch["tracks"])
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        done += 1
        if step % cfg.log_every == 0:
            log_line(step=step, loss=losses["loss"].item(),
                     code_loss=losses["code_loss"].item(), end_loss=losses["end_loss"].item(),
                     accuracy=[round(a, 3) for a in losses["accuracy"].tolist()],
                     lr=opt.param_groups[0]["lr"],
                     steps_per_s=done / (time.perf_counter() - start))
        if rank == 0 and (step % cfg.ckpt_every == 0 or step == cfg.steps):
            save_checkpoint(out, step, model, opt, "separator", arch.to_dict(), cfg)
    if world > 1:
        dist.destroy_process_group()
    return out / "separator.safetensors"
