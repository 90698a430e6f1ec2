"""The band-split mask model: its bands, its framing against the engine's STFT, the exported
graph against torch, and separation through the engine with a tiny random model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine import Separator
from engine.dsp.stft import istft, stft
from engine.errors import InvalidArgumentError
from export_onnx.bandsplit import check, package
from lab.nn.bandsplit import (
    BandSplitConfig,
    BandSplitRoFormer,
    band_edges,
    grow,
    separation_loss,
    spectrogram,
)
from tests.conftest import music, residual_db

TINY = replace(BandSplitConfig(), n_fft=512, hop=128, n_bands=8, min_band_bins=2, dim=16,
               n_layers=1, n_heads=2)


def tiny_model() -> BandSplitRoFormer:
    torch.manual_seed(0)
    return BandSplitRoFormer(TINY).eval()


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "bandsplit-tiny"
    package(tiny_model(), folder, "bandsplit-tiny", "a tiny random mask model for tests",
            params={"chunk_s": 0.5, "context_s": 0.1})
    return folder


@pytest.mark.parametrize("rate,n_fft,n_bands,min_bins", [(44100, 4096, 32, 4),
                                                          (44100, 2048, 62, 2),
                                                          (48000, 512, 8, 2)])
def test_bands_cover_every_bin_once_narrow_at_the_bottom(rate, n_fft, n_bands, min_bins):
    edges = np.array(band_edges(rate, n_fft, n_bands, min_bins))
    widths = np.diff(edges)
    assert edges[0] == 0 and edges[-1] == n_fft // 2 + 1 and len(widths) == n_bands
    assert widths.min() >= min_bins
    assert widths[-1] > 4 * widths[0]  # mel-spaced: wide at the top


def test_training_frames_are_the_engines_frames():
    """The network is trained on torch.stft and run on the engine's numpy STFT: they must be
    the same numbers, frame for frame, or the shipped model sees shifted spectra."""
    audio = music(0.7, 44100, 2, seed=1)
    ours = spectrogram(torch.from_numpy(audio)[None], TINY)[0].numpy()  # (C, T, F, 2)
    engine = stft(audio, TINY.n_fft, TINY.hop)  # (C, T, F)
    assert ours.shape[:3] == engine.shape
    assert np.allclose(ours[..., 0] + 1j * ours[..., 1], engine, atol=1e-4)


def test_masks_sum_to_one_and_training_reduces_the_loss():
    model = tiny_model().train()
    stems = torch.from_numpy(np.stack(list(music_parts_array(1.0).values())))[None]
    mixture = stems.sum(1)
    with torch.no_grad():
        masks = model(spectrogram(mixture, TINY))
    assert torch.allclose(masks.sum(1), torch.ones_like(masks[:, 0]), atol=1e-5)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = separation_loss(model, mixture, stems)["loss"].item()
    for _ in range(30):
        loss = separation_loss(model, mixture, stems)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.8 * first


def test_a_grown_model_starts_with_the_small_ones_masks_and_then_learns():
    """A session moves the shipped weights to a larger preset: the wider, deeper model must
    separate exactly as the small one did, and its new weights must be trainable."""
    small = tiny_model()
    with torch.no_grad():  # a trained model's norms are not all ones
        for name, p in small.named_parameters():
            if "norm" in name or name.endswith(".0.weight"):
                p.mul_(1 + 0.3 * torch.rand_like(p))
    big_cfg = replace(TINY, dim=24, n_heads=3, n_layers=2, ff_mult=3, mask_mult=3)
    big = BandSplitRoFormer(big_cfg)
    grow(big, TINY, small.state_dict())
    stems = torch.from_numpy(np.stack(list(music_parts_array(1.0).values())))[None]
    mixture = stems.sum(1)
    spec = spectrogram(mixture, TINY)
    with torch.no_grad():
        # equal but for the norms' epsilon, which the zero channels weigh 1.5 times here
        assert torch.allclose(big.eval()(spec), small(spec), atol=1e-3)
        assert not torch.allclose(BandSplitRoFormer(big_cfg).eval()(spec), small(spec),
                                  atol=1e-2)  # (a model not grown from it does differ)
    big.train()
    separation_loss(big, mixture, stems)["loss"].backward()
    grads = {n: p.grad for n, p in big.named_parameters()}
    assert grads["time_layers.1.attn.out.weight"].abs().sum() > 0  # the new layer learns
    assert grads["split.projs.0.weight"][TINY.dim:].abs().sum() > 0  # so do the new channels
    with pytest.raises(ValueError, match="keeps the framing and the bands"):
        grow(BandSplitRoFormer(replace(big_cfg, n_bands=6)), TINY, small.state_dict())


def test_export_writes_default_options_and_refuses_a_wrong_one(tmp_path):
    """`stemma-lab export bandsplit --option shifts=2`: the packaged model runs with two grids
    unless a user says otherwise; a misspelt or invalid option fails before anything is
    written."""
    import subprocess
    import sys

    from engine.backends import create
    from engine.nn.serialization import save_model
    from engine.registry import ModelInfo

    save_model(tmp_path / "w.safetensors", tiny_model().state_dict(), "masks", TINY.to_dict())

    def export(out: str, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lab", "export", "bandsplit", tmp_path / "w.safetensors",
             tmp_path / out, "--name", "t", *[a for o in options for a in ("--option", o)]],
            capture_output=True, text=True, timeout=300)

    done = export("ok", "shifts=2", "chunk_s=0.5")
    assert done.returncode == 0, done.stderr
    info = ModelInfo.from_folder(tmp_path / "ok")
    assert info.params["shifts"] == 2 and info.params["chunk_s"] == 0.5
    assert create(info, "cpu").options.shifts == 2
    assert create(info, "cpu", {"shifts": 1}).options.shifts == 1  # the user's choice wins
    for wrong, message in (("shiftz=2", "shiftz does not apply"), ("shifts=0", "shifts=0")):
        done = export("bad", wrong)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert not (tmp_path / "bad").exists()


def _training_songs(folder) -> None:
    import soundfile as sf

    from tests.conftest import music_parts

    for k in range(2):
        song = folder / f"song{k}"
        song.mkdir(parents=True)
        parts = music_parts(4.0, 44100, seed=10 + k)
        for stem, audio in parts.items():
            sf.write(song / f"{stem}.wav", audio.T, 44100, subtype="FLOAT")
        sf.write(song / "mixture.wav", sum(parts.values()).T, 44100, subtype="FLOAT")


def _train(*args) -> None:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "lab", "train", "bandsplit", *map(str, args),
                          "--batch-size", "1", "--segment-s", "1", "--warmup", "1",
                          "--bf16", "off", "--device", "cpu"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


def test_train_with_init_of_a_smaller_preset_starts_from_its_masks(tmp_path):
    """`stemma-lab train bandsplit --preset medium --init SMALL.safetensors` (how a session
    moves the shipped small weights to the medium preset): the run grows them, so after a
    step at a negligible learning rate the medium model still gives the small one's masks."""
    from engine.nn.serialization import save_model
    from export_onnx.bandsplit import load_masks
    from lab.nn.bandsplit import bandsplit_config
    from tests.conftest import music_parts

    _training_songs(tmp_path / "songs")
    small_cfg = bandsplit_config("small")
    torch.manual_seed(1)
    small = BandSplitRoFormer(small_cfg).eval()
    save_model(tmp_path / "small.safetensors", small.state_dict(), "masks", small_cfg.to_dict())
    _train("--preset", "medium", "--init", tmp_path / "small.safetensors",
           "--data", tmp_path / "songs", "--out", tmp_path / "run", "--steps", "1",
           "--lr", "1e-12")
    medium = load_masks(tmp_path / "run" / "masks.safetensors")
    assert medium.cfg == bandsplit_config("medium")
    parts = music_parts(1.0, 44100, seed=3)
    spec = spectrogram(torch.from_numpy(sum(parts.values()).astype(np.float32))[None],
                       small_cfg)
    with torch.no_grad():
        assert torch.allclose(medium.eval()(spec), small(spec), atol=2e-3)


def test_train_with_ema_scores_the_average_and_resumes_it(tmp_path):
    """`--ema DECAY`: each checkpoint scores the weights and their moving average, the best
    weights file holds whichever scored best, and a resumed run goes on averaging from the
    saved average (not from the resumed weights)."""
    import json

    from engine.nn.serialization import load_model

    _training_songs(tmp_path / "songs")
    out = tmp_path / "run"
    common = ("--preset", "small", "--data", tmp_path / "songs", "--val-data",
              tmp_path / "songs", "--val-segment-s", "1", "--out", out, "--lr", "1e-3",
              "--ema", "0.5", "--ckpt-every", "1")
    _train(*common, "--steps", "1")
    scores = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    scores = [s for s in scores if "val_usdr" in s]
    assert [s["step"] for s in scores] == [1]
    assert "ema_val_usdr" in scores[0] and "ema_val_usdr_vocals" in scores[0]
    ema1 = load_model(out / "ema.safetensors")[2]
    weights1 = load_model(out / "masks.safetensors")[2]
    assert any(not torch.equal(ema1[k], weights1[k]) for k in ema1)
    chosen = ema1 if scores[0]["ema_val_usdr"] > scores[0]["val_usdr"] else weights1
    best = load_model(out / "masks_best.safetensors")[2]
    assert all(torch.equal(best[k], chosen[k]) for k in best)

    _train(*common, "--steps", "2")
    ema2 = load_model(out / "ema.safetensors")[2]
    weights2 = load_model(out / "masks.safetensors")[2]
    decay = min(0.5, (1 + 2) / (10 + 2))  # the run's second update
    for k in ema2:
        if ema2[k].is_floating_point():
            assert torch.allclose(ema2[k], torch.lerp(ema1[k], weights2[k], 1 - decay),
                                  atol=1e-6), k


def music_parts_array(seconds: float) -> dict[str, np.ndarray]:
    from tests.conftest import music_parts

    return {k: v.astype(np.float32) for k, v in music_parts(seconds, 44100, seed=3).items()}


def test_exported_graph_matches_the_shipped_weights(tiny_folder):
    from export_onnx.bandsplit import load_masks

    model = load_masks(tiny_folder / "masks.safetensors")  # fp16-rounded, as packaged
    assert check(model, tiny_folder / "model.onnx", frames=37) < 1e-4  # another length


@pytest.mark.parametrize("wiener", [True, False], ids=["wiener", "masks"])
@pytest.mark.parametrize("channels", [1, 2], ids=["mono", "stereo"])
def test_separation_keeps_rate_length_channels_and_sums_to_the_mix(tiny_folder, wiener,
                                                                   channels):
    mix = music(2.3, 48000, channels, seed=4)  # another rate than the model's 44.1 kHz
    stems = Separator(tiny_folder, options={"wiener": wiener}).separate(mix, 48000)
    assert list(stems) == ["vocals", "drums", "bass", "other"]
    assert all(s.shape == mix.shape for s in stems.values())
    assert residual_db(mix, stems.values()) < -80


def test_unknown_or_invalid_options_are_errors(tiny_folder):
    with pytest.raises(InvalidArgumentError, match="refine does not apply to a bandsplit"):
        Separator(tiny_folder, options={"refine": False})
    with pytest.raises(InvalidArgumentError, match="invalid option value"):
        Separator(tiny_folder, options={"wiener": "perhaps"})
    with pytest.raises(InvalidArgumentError, match="shifts=0"):
        Separator(tiny_folder, options={"shifts": 0})


def test_shifted_grids_average_into_stems_that_still_sum_to_the_mix(tiny_folder):
    """shifts=2 runs the model on a second STFT grid half a hop later: other stems than one
    grid gives (the mean of both), the same length, still summing to the mixture."""
    mix = music(2.3, 44100, 2, seed=5)
    one = Separator(tiny_folder).separate(mix, 44100)
    two = Separator(tiny_folder, options={"shifts": 2}).separate(mix, 44100)
    assert all(two[s].shape == mix.shape for s in one)
    assert residual_db(mix, two.values()) < -80
    changed = [np.abs(two[s] - one[s]).max() / (np.abs(one[s]).max() + 1e-9) for s in one]
    assert min(changed) > 1e-3, changed


def test_every_plain_masked_stem_is_its_mask_times_the_mixture(tiny_folder):
    """Plain masking takes the last stem as the mixture less the others (one inverse STFT
    fewer): it is still that stem's mask applied to the mixture, to float precision."""
    separator = Separator(tiny_folder)
    backend = separator._backend
    mix = music(1.1, 44100, 2, seed=6)
    stems = backend._separate_on_grid(mix)
    x = stft(mix, backend.options.n_fft, backend.options.hop)
    masks = backend.masks(x)
    for k in range(len(masks)):
        direct = istft(masks[k][None] * x, backend.options.n_fft, backend.options.hop,
                       mix.shape[1])
        assert np.abs(stems[k] - direct).max() < 1e-5 * np.abs(mix).max(), k
