"""A separation request: everything one job needs, checked once when it is made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError
from ..outputs import OutputSpec


def _frozen(options: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(options or {}))


@dataclass(frozen=True)
class Request:
    """One song to separate.

    ``output`` is a folder (stems go to ``output/<template>.<fmt>``) or a mapping from output
    name to file (``{"no_vocals": "karaoke.wav"}``). ``stems`` picks outputs: stem names of
    the model, or ``no_<stem>`` for the mix without it (None: every stem). ``options`` are the
    model's run-time options, checked strictly by its backend (``engine.backends.options``).
    ``start``/``end`` (seconds) separate a part of the song only.
    """

    input: Path
    output: Path | Mapping[str, Path]
    model: str = "auto"  # a name, a folder, a checkpoint file, or "auto"
    device: str = "auto"  # "auto", "cpu" or "cuda"
    stems: tuple[str, ...] | None = None
    spec: OutputSpec = field(default_factory=OutputSpec)  # format, bit depth, overwrite, names
    options: Mapping[str, Any] = field(default_factory=dict)
    start: float = 0.0  # seconds: separate only from here ...
    end: float | None = None  # ... to here (None: to the end of the song)
    threads: int | None = None  # chunks separated at once (None: the engine's choice)
    chunk_seconds: float | None = None  # new audio per chunk (None: the model's plan)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input", Path(self.input))
        if isinstance(self.output, Mapping):
            if not self.output:
                raise InvalidArgumentError("a request needs at least one output file")
            set_(self, "output", MappingProxyType({k: Path(v) for k, v in self.output.items()}))
        else:
            set_(self, "output", Path(self.output))
        set_(self, "model", str(self.model))
        if self.device not in ("auto", "cpu", "cuda"):
            raise InvalidArgumentError(f"unknown device '{self.device}'; use auto, cpu or cuda")
        if self.stems is not None:
            stems = tuple(s.strip() for s in self.stems if s.strip())
            if not stems:
                raise InvalidArgumentError("no stems asked for")
            set_(self, "stems", stems)
        set_(self, "options", _frozen(self.options))
        if self.start < 0 or (self.end is not None and self.end <= self.start):
            raise InvalidArgumentError(f"a range must start at 0 s or later and end after it "
                                       f"starts; got {self.start:g} to {self.end}")
        if self.threads is not None and self.threads < 1:
            raise InvalidArgumentError(f"threads must be at least 1, not {self.threads}")
        if self.chunk_seconds is not None and self.chunk_seconds <= 0:
            raise InvalidArgumentError(f"chunk_seconds must be positive, not "
                                       f"{self.chunk_seconds}")

    @property
    def span(self) -> tuple[float, float | None] | None:
        return None if (self.start, self.end) == (0.0, None) else (self.start, self.end)

    @property
    def model_key(self) -> tuple:
        """What decides whether a loaded model can serve this request."""
        return (self.model, self.device, tuple(sorted(self.options.items())), self.threads,
                self.chunk_seconds)

    def outputs(self, model_stems: Sequence[str]) -> list[str]:
        """The outputs this request writes, for a model giving ``model_stems``."""
        if isinstance(self.output, Mapping):
            return list(self.output)
        return list(self.stems) if self.stems is not None else list(model_stems)
