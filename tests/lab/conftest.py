"""A tiny codec, so the model, export, runtime and evaluation tests run in seconds."""

from __future__ import annotations

import math

import pytest
import torch

from lab.nn.codec import Codec, CodecConfig
from lab.nn.teacher import TeacherConfig

TINY = CodecConfig(dim=32, latent_dim=32, n_convnext=1, n_transformer=1, n_heads=2, hidden=64,
                   n_levels=4, codebook_size=16, code_dim=8, semantic_dim=16,
                   teacher=TeacherConfig(dim=16, n_layers=2, n_heads=2, hidden=32,
                                         feature_layer=1))


def tiny_codec(seed: int = 0) -> Codec:
    """Random weights, codebooks filled, and a head whose output looks like audio (random
    magnitudes and phases): a random head would give near-silence, where float noise rules."""
    torch.manual_seed(seed)
    codec = Codec(TINY)
    for rvq in (codec.acoustic_rvq, codec.semantic_rvq):
        for level in rvq.levels:
            level.codebook.normal_()
            level.initialized.fill_(True)
    with torch.no_grad():
        f = TINY.n_bins
        codec.head.bias[:f] = torch.randn(f) - 3
        codec.head.bias[f:] = torch.rand(f) * 2 * math.pi - math.pi
    return codec.eval()


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory):
    """The tiny codec exported and packaged as an installable codec folder."""
    from export_onnx.codec import package

    folder = tmp_path_factory.mktemp("codec") / "tiny"
    codec = tiny_codec()
    package(codec, folder, "tiny", "a tiny random codec for tests")
    return codec, folder
