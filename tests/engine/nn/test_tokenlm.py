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


def test_refinement_in_blocks_equals_one_pass_and_sums_to_the_mix():
    """Memory follows the block, not the chunk: blocks with the margin each setting needs
    reproduce one pass over the whole signal, so refining in blocks changes nothing audible."""
    from engine.backends.tokenlm import HOP, RefineConfig, wiener_refine

    mix = music(12.0, 48000, 2, seed=5)
    rng = np.random.default_rng(0)
    raw = np.abs(rng.standard_normal((4, mix.shape[1]))).astype(np.float32) * mix[0]
    for cfg in (RefineConfig(), RefineConfig(prior_frames=5, prior_bins=3, prior_power=0.7)):
        whole = wiener_refine(mix, raw, cfg, block=1 << 30)
        blocks = wiener_refine(mix, raw, cfg, block=40 * HOP)  # 0.85 s blocks
        assert blocks.shape == (4, 2, mix.shape[1])
        assert np.max(np.abs(blocks - whole)) < 1e-4 * np.max(np.abs(whole))
        assert residual_db(mix, blocks) < -80


def test_cli_says_where_each_part_runs(tiny_model, tmp_path):
    import subprocess
    import sys

    import soundfile as sf

    src = tmp_path / "song.wav"
    sf.write(src, music(2.0, 44100, 2, seed=6).T, 44100)
    run = subprocess.run([sys.executable, "-m", "engine", "separate", str(src), "-o",
                          str(tmp_path / "out"), "--model", str(tiny_model), "--device", "cpu"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert ("model tokenlm-tiny on LM: torch on cpu; conditioner: CPUExecutionProvider; "
            "codec decoder: CPUExecutionProvider") in run.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "song").iterdir()) == [
        "bass.wav", "drums.wav", "other.wav", "vocals.wav"]
