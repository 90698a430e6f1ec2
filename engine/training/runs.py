"""What every training run shares: process group setup, the learning-rate schedule, the
JSON-lines log, and resumable checkpoints (``OUT/last.pt``) next to the latest weights."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist

from ..nn.serialization import save_model


def distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank() if world > 1 else 0), world


def learning_rate(step: int, peak: float, warmup: int, total: int, floor: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``floor * peak`` at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


class RunLog:
    """One JSON object per line in ``path`` (and on stdout), from rank 0 only."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path, self.enabled = path, enabled

    def __call__(self, **record) -> None:
        if not self.enabled:
            return
        line = json.dumps({k: (round(v, 5) if isinstance(v, float) else v)
                           for k, v in record.items()})
        with self.path.open("a") as f:
            f.write(line + "\n")
        print(line, flush=True)


def resume(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Load ``out/last.pt`` into the model and optimizer if it exists; the step reached."""
    checkpoint = out / "last.pt"
    if not checkpoint.exists():
        return 0
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"])


def save_checkpoint(out: Path, step: int, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, kind: str, arch: dict,
                    train_config) -> None:
    """``out/last.pt`` (to resume) and ``out/<kind>.safetensors`` (the weights), atomically."""
    tmp = out / "last.pt.part"
    torch.save({"format_version": 1, "config": arch, "train": asdict(train_config),
                "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
               tmp)
    tmp.replace(out / "last.pt")
    save_model(out / f"{kind}.safetensors", model.state_dict(), kind, arch)
