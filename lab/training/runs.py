"""What every training run shares: process group setup, the learning-rate schedule, the
JSON-lines log, and resumable checkpoints (``OUT/last.pt``) next to the latest weights."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist

from engine.nn.serialization import load_model, save_model


def distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank() if world > 1 else 0), world


def train_device(choice: str) -> torch.device:
    """The device to train on: "auto" takes this process's GPU when there is one."""
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return torch.device("cuda", torch.cuda.current_device())


class Budget:
    """When a run ends: after ``steps`` optimizer steps, or after ``minutes`` of wall time if
    set (a lease on a lent GPU ends on the clock), whichever comes first. ``progress`` is how
    far along the run is by the nearer of the two, and drives the learning-rate decay, so a
    run cut short by the clock still decays fully and ends with a checkpoint."""

    def __init__(self, steps: int, minutes: float, warmup: int):
        self.steps, self.seconds, self.warmup = steps, 60 * minutes, warmup
        self.start = time.monotonic()

    def progress(self, step: int) -> float:
        by_steps = (step - self.warmup) / max(1, self.steps - self.warmup)
        by_clock = (time.monotonic() - self.start) / self.seconds if self.seconds else 0.0
        return min(1.0, max(0.0, by_steps, by_clock))

    def done(self, step: int) -> bool:
        return step >= self.steps or (
            self.seconds > 0 and time.monotonic() - self.start >= self.seconds)


def stop(budget: Budget, step: int, world: int) -> bool:
    """Whether to end the run; under DDP every rank follows rank 0's clock."""
    done = budget.done(step)
    if world > 1:
        flag = torch.tensor(float(done), device="cuda" if torch.cuda.is_available() else "cpu")
        dist.broadcast(flag, 0)
        done = bool(flag.item())
    return done


def use_bf16(choice: str, device: torch.device) -> bool:
    """Whether to autocast to bfloat16: "auto" only where the hardware computes it natively
    (CUDA with bf16; a CPU with AVX512-BF16 or AMX). Without those a CPU emulates bf16: on
    an AVX-512 CPU without them a bf16 matmul ran at 50 GFLOP/s against 136-223 in float32,
    so autocast there costs a factor of three instead of saving one."""
    if choice in ("on", "off"):
        return choice == "on"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def learning_rate(step: int, peak: float, warmup: int, progress: float, floor: float) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine decay to ``floor * peak``
    as ``progress`` goes from 0 to 1."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, lr: float,
                   clip: torch.nn.Module | list | None = None, max_norm: float = 1.0) -> None:
    """One update: set every group's learning rate to ``lr``, back-propagate ``loss``, clip the
    gradient norm of ``clip``'s parameters (a module or a parameter list) to ``max_norm`` when
    given, and step."""
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        params = clip.parameters() if isinstance(clip, torch.nn.Module) else clip
        torch.nn.utils.clip_grad_norm_(params, max_norm)
    opt.step()


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


class WeightAverage:
    """An exponential moving average of a model's weights (the "EMA" of Polyak averaging):
    after every optimizer step ``update`` moves each floating tensor of the average a fraction
    ``1 - decay`` towards the model's. Small-batch training leaves the weights noisy around
    the optimum; their average sits nearer to it. The effective decay starts low and rises to
    ``decay`` ((1 + n) / (10 + n) after n updates), so the average soon leaves its start."""

    def __init__(self, model: torch.nn.Module, decay: float,
                 start: dict[str, torch.Tensor] | None = None, updates: int = 0):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the average's decay must lie between 0 and 1, not {decay}")
        self.decay, self.updates = decay, updates
        # state_dict tensors share storage with the parameters: they follow every step
        sources = model.state_dict()
        self.state = {name: (start[name].to(t.device) if start is not None else t).detach().clone()
                      for name, t in sources.items()}
        self._pairs = [(self.state[n], t) for n, t in sources.items() if t.is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        averages, current = zip(*self._pairs, strict=True)
        torch._foreach_lerp_(list(averages), list(current), 1.0 - decay)


def average_models(paths: list[Path], shares: list[float] | None = None
                   ) -> tuple[str, dict, dict[str, torch.Tensor]]:
    """(kind, config, weights) of the weighted average of model files of one architecture:
    a "model soup" (Wortsman et al., "Model soups: averaging weights of multiple fine-tuned
    models improves accuracy without increasing inference time", arXiv 2203.05482). Runs that
    start from the same weights stay in one basin of the loss; their average usually sits
    lower in it than either, at no cost at run time. ``shares`` (default: equal) must be
    positive and are normalised to sum to one. Raises ValueError for files of another kind or
    architecture, or whose tensors differ in name or shape, or in value where they are not
    floating point (counters, indices: those must agree, they cannot be averaged)."""
    if not paths:
        raise ValueError("nothing to average: give at least one model file")
    shares = [1.0] * len(paths) if shares is None else list(shares)
    if len(shares) != len(paths):
        raise ValueError(f"{len(shares)} shares for {len(paths)} model files")
    if any(not share > 0 for share in shares):
        raise ValueError(f"every share must be positive, not {shares}")
    total = sum(shares)
    kind, config, first = load_model(paths[0])
    average = {name: (t * (shares[0] / total) if t.is_floating_point() else t)
               for name, t in first.items()}
    for path, share in zip(paths[1:], shares[1:], strict=True):
        other_kind, other_config, state = load_model(path)
        if (other_kind, other_config) != (kind, config):
            raise ValueError(f"{path} holds a {other_kind} of another architecture than "
                             f"{paths[0]}: only models of one architecture can be averaged")
        if state.keys() != first.keys():
            raise ValueError(f"{path} and {paths[0]} hold different tensors")
        for name, t in state.items():
            if t.shape != first[name].shape:
                raise ValueError(f"{path}: {name} is {tuple(t.shape)}, "
                                 f"{tuple(first[name].shape)} in {paths[0]}")
            if t.is_floating_point():
                average[name] += t * (share / total)
            elif not torch.equal(t, first[name]):
                raise ValueError(f"{path}: {name} differs from {paths[0]}'s and cannot be "
                                 "averaged (not a floating-point weight)")
    return kind, config, average
