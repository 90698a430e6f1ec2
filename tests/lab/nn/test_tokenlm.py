"""The tokenlm backend end to end with tiny random models: exported conditioner parity, and
separation through the engine (refined: aligned stereo stems summing to the mix; raw: the
generated mono stems as they are)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Separator
from engine.nn.lm import LMConfig
from export_onnx.separator import check_conditioner, export_conditioner, package
from lab.nn.conformer import ConformerConfig
from lab.nn.tokenlm import SeparatorConfig, TokenSeparator
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
    generations = raw * rng.uniform(0.5, 2.0, (3, 4, 1)).astype(np.float32)
    for cfg, priors in ((RefineConfig(), raw),
                        (RefineConfig(prior_frames=5, prior_bins=3, prior_power=0.7), raw),
                        (RefineConfig(prior_frames=1, prior_bins=5, prior_power=0.75,
                                      spatial_frames=347, mean_exponent=0.5), generations)):
        whole = wiener_refine(mix, priors, cfg, block=1 << 30)
        blocks = wiener_refine(mix, priors, cfg, block=40 * HOP)  # 0.85 s blocks
        assert blocks.shape == (4, 2, mix.shape[1])
        assert np.max(np.abs(blocks - whole)) < 1e-4 * np.max(np.abs(whole))
        assert residual_db(mix, blocks) < -80


def test_a_loud_outlier_generation_sways_a_magnitude_mean_less_than_a_power_mean():
    """The priors average K generations: where one of them puts a stem 20 dB too loud, the
    magnitude mean (``mean_exponent`` 1) or below stays near the others, the power mean
    does not; with equal generations every exponent gives their power."""
    from engine.backends.tokenlm import generation_power

    tone = np.sin(2 * np.pi * 440 * np.arange(48000) / 48000).astype(np.float32)
    same = np.stack([np.stack([tone, 0.5 * tone])] * 4)  # (K=4, S=2, N)
    outlier = same.copy()
    outlier[0, 0] *= 10.0  # one generation's first stem 20 dB louder
    for exponent in (2.0, 1.0, 0.5):
        assert np.allclose(generation_power(same, exponent), generation_power(same[0]),
                           rtol=1e-3, atol=1e-3)

    def level_db(exponent: float) -> float:
        p = generation_power(outlier, exponent)
        return 10 * np.log10(p[0].sum() / generation_power(same, 2.0)[0].sum())

    assert level_db(2.0) > 14  # (100 + 3) / 4: 14.1 dB, the outlier dominates
    assert level_db(1.0) < 10.5  # ((10 + 3) / 4) ** 2: 10.2 dB
    assert level_db(0.5) < 8  # ((10 ** 0.5 + 3) / 4) ** 4: 7.5 dB


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


def _backend(folder, **options):
    from engine import backends, registry

    return backends.create(registry.resolve(folder), "cpu", options)


def _windows(backend, n_windows: int, seed: int = 7) -> np.ndarray:
    """(W, width) distinct mixture windows: each its own piece of music."""
    width = backend.window_frames * backend.frame_samples
    return np.stack([music(width / 48000, 48000, 1, seed=seed + k)[0]
                     for k in range(n_windows)])


def test_each_window_is_generated_from_its_own_mixture(tiny_model):
    """Window k's stems are made from window k's mixture only: reorder the windows of a batch
    and the outputs come back reordered, exactly; change one window and only its output
    changes. (Positions, cache rows and batching must not leak between windows.)"""
    from engine.backends.tokenlm import _Meter

    backend = _backend(tiny_model)
    batch = _windows(backend, 3)
    meter = _Meter(1.0, lambda: None, None)
    out = backend._generate(batch, meter)[0]
    swapped = backend._generate(batch[[2, 1, 0]], meter)[0]
    assert np.array_equal(swapped, out[[2, 1, 0]])
    changed = batch.copy()
    changed[1] = _windows(backend, 1, seed=99)[0]
    again = backend._generate(changed, meter)[0]
    assert np.array_equal(again[[0, 2]], out[[0, 2]])
    assert not np.allclose(again[1], out[1])


def test_several_generations_average_into_the_priors(tiny_model):
    """``samples=K``: each window is generated K times, the K answers differ (sampling), and
    the refinement averages their power spectra: K copies of one generation refine exactly
    as that one does, and the stems still sum to the mix."""
    from engine.backends.tokenlm import _Meter, wiener_refine

    backend = _backend(tiny_model, temperature=1.0, samples=3)
    generations = backend._generate(_windows(backend, 2), _Meter(1.0, lambda: None, None))
    assert generations.shape[:3] == (3, 2, 4)
    assert not np.allclose(generations[0], generations[1])
    one = generations[0, 0]
    mix = music(one.shape[-1] / 48000, 48000, 2, seed=5)[:, :one.shape[-1]]
    assert np.allclose(wiener_refine(mix, np.stack([one] * 3)), wiener_refine(mix, one),
                       atol=1e-5)
    stems = Separator(tiny_model, options={"temperature": 1.0, "samples": 3}).separate(
        music(1.5, 44100, 2, seed=4), 44100)
    assert residual_db(music(1.5, 44100, 2, seed=4), stems.values()) < -80


def test_several_generations_need_sampling(tiny_model):
    """Refused when the options are read, before a model is loaded (the command line's check
    and the server's submit both read them so)."""
    from engine import registry
    from engine.backends.options import for_model
    from engine.errors import InvalidArgumentError

    for bad in ({"temperature": 0.0, "samples": 3}, {"temperature": 1.0, "samples": 0}):
        with pytest.raises(InvalidArgumentError, match=f"samples={bad['samples']}"):
            for_model(registry.resolve(tiny_model), bad)
    assert for_model(registry.resolve(tiny_model), {"temperature": 1.0, "samples": 3}).samples == 3


def test_generation_reports_progress_and_stops_on_a_cancel_between_steps(tiny_model):
    """Progress moves while the LM generates (not 0% then done), and a cancel raised by the
    check stops generation at the next decode step, not at the end of the chunk."""
    from engine.errors import Cancelled

    backend = _backend(tiny_model, refine=False)
    mono = music(6.0, 48000, 1, seed=3)[0]
    seen = []
    backend.generations(mono, lambda: None, seen.append)
    assert len(seen) > backend.lm.n_steps(backend.window_frames)  # at least one per step
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    calls = []

    def cancel_after_ten() -> None:
        calls.append(1)
        if len(calls) > 10:
            raise Cancelled()

    with pytest.raises(Cancelled):
        backend.generations(mono, cancel_after_ten)
    assert len(calls) == 11


def test_progress_moves_during_a_separation_and_cancel_is_prompt(tiny_model):
    """Through the public API: a song shorter than one chunk still reports progress between
    0 and 1 while it is separated (with an ETA), and a cancel from another thread stops it."""
    import threading

    from engine import CancelToken
    from engine.errors import Cancelled

    mix = music(8.0, 44100, 2, seed=2)
    separator = Separator(tiny_model)
    seen = []
    separator.separate(mix, 44100, on_progress=seen.append)
    inside = [p for p in seen if p.stage == "separating" and 0 < p.fraction < 1]
    assert len(inside) > 20 and all(p.eta is not None for p in inside)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and seen[-1].stage == "done"

    token = CancelToken()
    halfway = threading.Event()

    def on_progress(p) -> None:
        if p.fraction and p.fraction > 0.3:
            halfway.set()
            token.cancel()

    with pytest.raises(Cancelled):
        separator.separate(mix, 44100, on_progress=on_progress, cancel=token)
    assert halfway.is_set()
