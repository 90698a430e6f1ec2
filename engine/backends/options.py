"""Each backend's options, strictly: one frozen dataclass per backend, the only place its
settings are named. ``parse`` builds one from a manifest's ``params`` overridden by users'
options (``Separator(options=...)``, ``--raw``, ``stemma-lab eval --model NAME:k=v``); a name
the backend does not have is an error that says what it does take, so nothing is ignored
silently, and strings from a command line are cast to each field's type.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError


@dataclass(frozen=True)
class ClassicOptions:
    """The classic model has no options: its settings are its manifest's ``ClassicConfig``."""


@dataclass(frozen=True)
class TokenLMOptions:
    """The token separator's manifest params and run-time settings."""

    codec: str = "default"  # the neural audio codec its tokens belong to
    kind: str = "G"  # what the model is (manifest description)
    variant: str = "sequential"  # sequential (the paper's) or parallel (ablation A3)
    window_frames: int = 50  # codec frames per generated window (fixed by training)
    overlap_frames: int = 10  # frames shared by neighbouring windows
    refine: bool = True  # Wiener refinement on the mixture; False: the raw generated stems
    temperature: float = 0.0  # 0: greedy decoding
    top_k: int = 0  # sample among the k likeliest codes (0: all)
    seed: int = 0  # sampling seed
    samples: int = 1  # generations per window (sampling only): the refinement's priors are
    #                   their power spectra averaged; the raw output is the first of them
    chunk_s: float = 180.0  # seconds of audio per chunk (its windows are one batch)
    compile: bool = False  # torch.compile the decoding step (CUDA only)
    prior_frames: int = 3  # refinement: see backends.tokenlm.RefineConfig
    prior_bins: int = 1
    prior_power: float = 1.0
    spatial_frames: int = 87
    mean_exponent: float = 2.0
    calibrated: bool = True  # the priors scaled by the model's prior gains, where it has them

    def __post_init__(self) -> None:
        if self.samples < 1 or (self.samples > 1 and self.temperature == 0):
            raise ValueError(f"samples={self.samples}: give 1, or more than 1 with sampling "
                             "(temperature above 0); greedy decoding gives one answer")
        if not self.mean_exponent > 0:
            raise ValueError(f"mean_exponent={self.mean_exponent}: give a positive number "
                             "(2 averages the generations' power, 1 their magnitude)")


@dataclass(frozen=True)
class BandSplitOptions:
    """The band-split mask model's settings (manifest params, overridden by users' options)."""

    kind: str = "masks"  # what the model is (manifest description)
    n_fft: int = 4096  # the model's STFT (fixed by its training)
    hop: int = 1024
    chunk_s: float = 2.5  # new audio per chunk
    context_s: float = 0.25  # on each side (plus half the crossfade): windows of 3.25 s,
    #                          about the model's 3 s training crops
    wiener: bool = False  # multichannel Wiener step after the masks: on held-out songs it
    #                       cleans vocals (DNSMOS, NISQA) but costs 0.3-0.4 dB uSDR on every
    #                       set and drops 'other' below classic (the model card's Scores)
    spatial_frames: int = 43  # Wiener covariances averaged over ~1 s
    shifts: int = 1  # STFT grids the masks are computed on, offset by hop / shifts samples each;
    #                  the stems are the mean of theirs (shifts times the work)

    def __post_init__(self) -> None:
        if self.shifts < 1:
            raise ValueError(f"shifts={self.shifts}: give 1 (one STFT grid) or more")


@dataclass(frozen=True)
class DemucsOptions:
    """Run-time settings of an added Demucs model (users' options)."""

    context_s: float = 1.0  # real signal on each side of a chunk's core
    crossfade_s: float = 0.5


@dataclass(frozen=True)
class MdxOptions:
    """Run-time settings of an added MDX-Net model (users' options)."""

    denoise: bool = False  # average with the model's output for the negated input
    context_s: float = 0.5  # real signal on each side of a chunk's core
    crossfade_s: float = 0.25


@dataclass(frozen=True)
class RoformerOptions:
    """Run-time settings of an added BS/Mel-RoFormer model (users' options)."""

    context_s: float = 1.0  # real signal on each side of a chunk's core
    crossfade_s: float = 0.5


BY_BACKEND: dict[str, type] = {
    "classic": ClassicOptions, "tokenlm": TokenLMOptions, "bandsplit": BandSplitOptions,
    "demucs": DemucsOptions, "mdxnet": MdxOptions, "roformer": RoformerOptions}


MANIFEST_PARAMS = frozenset({"tokenlm", "bandsplit"})  # their manifest params are options too


def for_model(info, options: dict[str, Any] | None):
    """The options a model's backend runs with: its manifest params (where they are options)
    overridden by ``options``. Every backend parses its options here, and the command line
    calls it to refuse a bad option before any work starts, without loading the model."""
    base = info.params if info.backend in MANIFEST_PARAMS else {}
    return parse(BY_BACKEND[info.backend], {**base, **(options or {})}, info.backend,
                 info.folder)


def accepts(backend: str, name: str) -> bool:
    """Whether a backend has the option ``name``."""
    cls = BY_BACKEND.get(backend)
    return cls is not None and name in {f.name for f in fields(cls)}


def parse(cls: type, values: dict[str, Any], what: str, where: Path | None = None):
    """``cls(**values)``, each value cast to its field's type (command-line strings: "true",
    "0.5" ...); a name ``cls`` does not have is an ``InvalidArgumentError``."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        takes = f"it takes {', '.join(known)}" if known else "it takes no options"
        raise InvalidArgumentError(f"option {', '.join(unknown)} does not apply to a {what} "
                                   f"model ({takes})", where)
    try:
        return cls(**{k: _cast(v, type(known[k].default)) for k, v in values.items()})
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"invalid option value for a {what} model ({err})",
                                   where) from err


def _cast(value: Any, kind: type) -> Any:
    if kind is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{value!r} is not true or false")
        return value.lower() in ("true", "1", "yes")
    return kind(value)
