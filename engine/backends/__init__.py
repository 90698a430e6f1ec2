"""Backends by name. A manifest's ``backend`` field picks the factory here."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ModelError
from ..models import ModelInfo
from .base import Backend, ChunkPlan


def _classic(info: ModelInfo, device: str) -> Backend:
    from .classic import ClassicBackend, ClassicConfig

    try:
        return ClassicBackend(ClassicConfig(**info.params), info.sample_rate)
    except TypeError as err:
        raise ModelError(f"classic parameters in the manifest are invalid ({err})",
                         info.folder) from err


FACTORIES: dict[str, Callable[[ModelInfo, str], Backend]] = {"classic": _classic}


def create(info: ModelInfo, device: str) -> Backend:
    """Instantiate the backend a manifest names, on ``device``."""
    factory = FACTORIES.get(info.backend)
    if factory is None:
        raise ModelError(f"model '{info.name}' needs backend '{info.backend}', which this "
                         f"version of Stemma does not have (known: {', '.join(FACTORIES)})",
                         info.folder)
    return factory(info, device)


__all__ = ["Backend", "ChunkPlan", "create", "FACTORIES"]
