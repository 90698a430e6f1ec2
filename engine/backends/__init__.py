"""Backends by name. A manifest's ``backend`` field picks the factory here."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ModelError
from ..registry import ModelInfo
from .base import Backend, ChunkPlan
from .options import for_model


def _classic(info: ModelInfo, device: str, options: dict) -> Backend:
    from .classic import ClassicBackend, ClassicConfig

    for_model(info, options)  # classic has no options: any is an error
    try:
        return ClassicBackend(ClassicConfig(**info.params), info.sample_rate)
    except TypeError as err:
        raise ModelError(f"classic parameters in the manifest are invalid ({err})",
                         info.folder) from err


def _tokenlm(info: ModelInfo, device: str, options: dict) -> Backend:
    from .tokenlm import TokenLMBackend  # torch is imported only for this backend

    return TokenLMBackend(info, device, options)


def _bandsplit(info: ModelInfo, device: str, options: dict) -> Backend:
    from .bandsplit import BandSplitBackend

    return BandSplitBackend(info, device, options)


def _demucs(info: ModelInfo, device: str, options: dict) -> Backend:
    from .demucs_ckpt import DemucsBackend  # other projects' weights: engine.importing

    return DemucsBackend(info, device, options)


def _mdxnet(info: ModelInfo, device: str, options: dict) -> Backend:
    from .mdxnet import MdxNetBackend

    return MdxNetBackend(info, device, options)


def _roformer(info: ModelInfo, device: str, options: dict) -> Backend:
    from .roformer import RoformerBackend

    return RoformerBackend(info, device, options)


FACTORIES: dict[str, Callable[[ModelInfo, str, dict], Backend]] = {
    "classic": _classic, "tokenlm": _tokenlm, "bandsplit": _bandsplit, "demucs": _demucs,
    "mdxnet": _mdxnet, "roformer": _roformer}


def create(info: ModelInfo, device: str, options: dict | None = None) -> Backend:
    """Instantiate the backend a manifest names, on ``device``; ``options`` override the
    manifest's params (e.g. ``{"refine": False}`` for tokenlm's raw output)."""
    factory = FACTORIES.get(info.backend)
    if factory is None:
        raise ModelError(f"model '{info.name}' needs backend '{info.backend}', which this "
                         f"version of Stemma does not have (known: {', '.join(FACTORIES)})",
                         info.folder)
    return factory(info, device, options or {})


__all__ = ["Backend", "ChunkPlan", "create", "FACTORIES"]
