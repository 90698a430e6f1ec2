"""``stemma-lab train tokenlm``: teacher-forced training of the token separator.

    stemma-lab tokenize --data cache48 --codec-weights runs/codec/codec.safetensors \\
        --tokens runs/tokens
    stemma-lab train tokenlm --preset small --tokens runs/tokens --out runs/sep --steps 4000
    stemma-lab train tokenlm --preset small --parallel ...     # ablation A3

``stemma-lab tokenize`` tokenizes the training songs once (``tokens.py``: three augmentation
variants per song). Training then reads random 4 s windows of mixture log-mel and stem tokens, and
minimises the LM's loss (per-level weights [2, 1, ..., 1], label smoothing 0.1), on CUDA
when there is a GPU, else the CPU, with bf16 autocast where the hardware has it; AdamW with
warm-up and cosine decay; ``OUT/last.pt`` every ``--ckpt-every`` steps (a rerun resumes),
``OUT/separator.safetensors`` with the latest weights, JSON-lines logs with per-level
accuracy, DDP under torchrun.
``--minutes`` bounds the run by wall time (a lent GPU's lease). With ``--val-tokens`` (token
files of held-out songs) every checkpoint also scores fixed held-out windows and
``OUT/separator_best.safetensors`` keeps the weights with the lowest held-out loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from engine.nn.serialization import load_model, save_model

from ..nn.tokenlm import TokenSeparator, separator_config
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
from .tokens import TokenWindows, fixed_windows


@dataclass(frozen=True)
class SeparatorTrainConfig:
    preset: str = "small"
    parallel: bool = False  # ablation A3
    tokens: str = "runs/tokens"  # prepared token files
    val_tokens: str = ""  # token files of held-out songs ("" for none)
    out: str = "runs/separator"
    steps: int = 4000
    minutes: float = 0.0  # or stop after this much training time (0: no limit), see Budget
    batch_size: int = 8  # 4 s windows per step (per process)
    lr: float = 5e-4  # the paper's
    warmup: int = 200  # (the paper: 2000 of many more steps)
    weight_decay: float = 0.05
    bf16: str = "auto"  # bfloat16 autocast: auto (where the hardware has it), on, off
    device: str = "auto"  # auto (CUDA if there is a GPU), cpu or cuda
    log_every: int = 25
    ckpt_every: int = 250
    seed: int = 0
    workers: int = 0
    init: str = ""  # weights to start from when OUT has no checkpoint (e.g. the shipped ones)
    sampled: float = 0.0  # scheduled sampling: share of input tokens the model predicts itself
    level_decay: float = 0.0  # loss weight decay over RVQ levels (0: the preset's)
    snapshot_every: int = 0  # also keep OUT/snapshots/step_N.safetensors (learning curves)
    # share of windows whose mel is the 44.1 kHz delivery of the mixture (tokens.as_delivered);
    # above 0 the held-out windows are scored both clean and delivered
    delivered: float = 0.0


@torch.no_grad()
def validate(model: TokenSeparator, windows: dict[str, torch.Tensor], batch_size: int,
             bf16: bool, n_generate: int = 16) -> dict[str, float]:
    """Held-out scores on fixed windows (dropout off): the teacher-forced loss and level-1
    accuracy, and, for the first ``n_generate`` windows, what greedy generation gets right on
    its own: level-1 accuracy of the acoustic codes and how often it repeats the previous
    frame's level-1 code (a model stuck in one code, e.g. silence, repeats it every frame)."""
    device = next(model.parameters()).device
    model.eval()
    losses, first = [], []
    for i in range(0, len(windows["mel"]), batch_size):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(windows["mel"][i:i + batch_size].to(device),
                        windows["tracks"][i:i + batch_size].to(device))
        losses.append(out["loss"].item())
        first.append(out["accuracy"][0].item())
    mel = windows["mel"][:n_generate].to(device)
    truth = windows["tracks"][:n_generate, :, 0::2, 0].to(device)  # acoustic level 1
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        made = model.lm.generate(model.conditioner.from_mel(mel))[:, :, 0::2, 0]
    model.train()
    return {"val_loss": sum(losses) / len(losses), "val_accuracy_1": sum(first) / len(first),
            "val_free_accuracy_1": (made == truth).float().mean().item(),
            "val_free_repeats": (made[..., 1:] == made[..., :-1]).float().mean().item(),
            "val_true_repeats": (truth[..., 1:] == truth[..., :-1]).float().mean().item()}


def train_separator(cfg: SeparatorTrainConfig) -> Path:
    rank, world = distributed()
    device = train_device(cfg.device)
    torch.manual_seed(cfg.seed + rank)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    arch = separator_config(cfg.preset, cfg.parallel)
    if cfg.level_decay:
        arch = replace(arch, lm=replace(arch.lm, level_decay=cfg.level_decay))
    model = TokenSeparator(arch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95),
                            weight_decay=cfg.weight_decay)
    step = resume(out, model, opt)
    if step == 0 and cfg.init:
        _initialise(model, cfg.init)
    log_line = RunLog(out / "log.jsonl", rank == 0)
    # The sequential model never uses the per-track start tokens (A3 only).
    net = DistributedDataParallel(model, find_unused_parameters=True) if world > 1 else model
    data = TokenWindows(cfg.tokens, arch.window_frames, seed=cfg.seed * 1000 + rank + step,
                        delivered=cfg.delivered)
    loader = iter(DataLoader(data, batch_size=cfg.batch_size, num_workers=cfg.workers))
    held_out = (fixed_windows(cfg.val_tokens, arch.window_frames, delivered=cfg.delivered > 0)
                if cfg.val_tokens else None)
    best = float("inf")
    budget = Budget(cfg.steps, cfg.minutes, cfg.warmup)
    bf16 = use_bf16(cfg.bf16, device)
    start, done = time.perf_counter(), 0
    while not stop(budget, step, world):
        batch = next(loader)
        model.train()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            losses = net(batch["mel"].to(device, non_blocking=True),
                         batch["tracks"].to(device, non_blocking=True), cfg.sampled)
        optimizer_step(opt, losses["loss"], learning_rate(step, cfg.lr, cfg.warmup,
                                                           budget.progress(step), floor=0.05),
                       clip=model)
        step += 1
        done += 1
        if step % cfg.log_every == 0:
            log_line(step=step, loss=losses["loss"].item(),
                     code_loss=losses["code_loss"].item(), end_loss=losses["end_loss"].item(),
                     accuracy=[round(a, 3) for a in losses["accuracy"].tolist()],
                     lr=opt.param_groups[0]["lr"],
                     steps_per_s=done / (time.perf_counter() - start))
        if rank == 0 and cfg.snapshot_every and step % cfg.snapshot_every == 0:
            save_model(out / "snapshots" / f"step_{step}.safetensors", model.state_dict(),
                       "separator", model.cfg.to_dict())
        if rank == 0 and step % cfg.ckpt_every == 0:
            best = _checkpoint(out, step, model, opt, cfg, held_out, best, log_line, bf16)
    if rank == 0 and step % cfg.ckpt_every:  # the last step, unless just saved
        _checkpoint(out, step, model, opt, cfg, held_out, best, log_line, bf16)
    if world > 1:
        dist.destroy_process_group()
    return out / "separator.safetensors"


def _initialise(model: TokenSeparator, path: str) -> None:
    """Start from existing weights (a session's run continues from the shipped model): every
    tensor must match the architecture."""
    kind, config, state = load_model(path)
    if kind != "separator":
        raise ValueError(f"{path} holds a {kind}, not a separator")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} does not match the {model.cfg.lm.dim}-wide preset: missing "
                         f"{missing[:5]}, unexpected {unexpected[:5]}")


def _checkpoint(out: Path, step: int, model: TokenSeparator, opt: torch.optim.Optimizer,
                cfg: SeparatorTrainConfig, held_out: dict | None, best: float,
                log_line: RunLog, bf16: bool) -> float:
    """Save the run; score the held-out windows and keep the best weights. -> best loss."""
    arch = model.cfg.to_dict()
    save_checkpoint(out, step, model, opt, "separator", arch, cfg)
    if held_out is None:
        return best
    scores = validate(model, held_out, cfg.batch_size, bf16)
    log_line(step=step, **scores)
    if scores["val_loss"] < best:
        save_model(out / "separator_best.safetensors", model.state_dict(), "separator", arch)
        return scores["val_loss"]
    return best
