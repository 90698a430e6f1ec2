"""The tokenlm backend end to end with tiny random models: exported conditioner parity, and
separation through the engine (refined: aligned stereo stems summing to the mix; raw: the
generated mono stems as they are)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Separator
from engine.nn.conformer import ConformerConfig
from engine.nn.lm import LMConfig
from engine.nn.separator import SeparatorConfig, TokenSeparator
from export_onnx.separator import check_conditioner, export_conditioner, package
from tests.conftest import music, residual_db


def _tiny_separator() -> TokenSeparator:
    torch.manual_seed(0)
    cfg = SeparatorConfig(
        conformer=ConformerConfig(dim=16, n_layers=1, n_heads=2, dropout=0.0),
        lm=LMConfig(dim=32, n_layers=2, n_heads=2, hidden=64, dropout=0.0, n_levels=4,
                    codebook_size=16, code_dim=8), window_frames=3)
    return TokenSeparator(cfg).eval()


@pytest.fixture(scope="module")
def tiny_model(tiny_package, tmp_path_factory):
    _, codec_folder = tiny_package
    folder = tmp_path_factory.mktemp("models") / "tokenlm-tiny"
    package(_tiny_separator(), folder, "tokenlm-tiny", str(codec_folder), overlap_frames=1)
    return folder


def test_exported_conditioner_matches_torch(tmp_path):
    model = _tiny_separator()
    path = export_conditioner(model, tmp_path / "conditioner.onnx")
    assert check_conditioner(model, path) < 1e-3


def test_refined_stems_are_stereo_aligned_and_sum_to_the_mix(tiny_model):
    mix = music(1.5, 44100, 2, seed=4)
    separator = Separator(tiny_model)
    assert separator.stems == ("vocals", "drums", "bass", "other")
    stems = separator.separate(mix, 44100)
    assert all(s.shape == mix.shape for s in stems.values())
    assert residual_db(mix, stems.values()) < -80


def test_raw_output_is_the_generated_mono_audio(tiny_model):
    mix = music(1.5, 44100, 2, seed=4)
    stems = Separator(tiny_model, options={"refine": False}).separate(mix, 44100)
    vocals = stems["vocals"]
    assert vocals.shape == mix.shape and np.array_equal(vocals[0], vocals[1])  # mono
    assert residual_db(mix, stems.values()) > -20  # generated: not a split of the mix
