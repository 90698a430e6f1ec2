"""Our BS/Mel-RoFormer has the training repository's module tree, so published checkpoints
load key for key; its config reader refuses what it cannot honour."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from engine.backends.roformer_net import Roformer, config_from_yaml, mel_bands
from tests.engine.backends.checkpoints import BANDS, BS_MODEL

# Key names and shapes that the Music-Source-Separation-Training repository's BSRoformer and
# MelBandRoformer classes give these tiny configs (their state_dict(), listed once).
REFERENCE = json.loads((Path(__file__).with_name("roformer_reference_keys.json")).read_text())


def tiny(label: str) -> dict:
    model = dict(BS_MODEL, **REFERENCE[label]["overrides"])
    if label.startswith("mel"):
        return dict(model, num_bands=12, sample_rate=44100)
    return dict(model, freqs_per_bands=BANDS)


@pytest.mark.parametrize("label", list(REFERENCE))
def test_state_dict_keys_and_shapes_are_the_training_repositorys(label):
    ours = {k: list(v.shape) for k, v in Roformer(config_from_yaml(tiny(label))).state_dict()
            .items()}
    assert ours == REFERENCE[label]["keys"]


@pytest.mark.parametrize("label", ["bs", "mel"])
def test_separates_any_length_into_stems_of_that_length(label):
    net = Roformer(config_from_yaml(dict(tiny(label), num_stems=2))).eval()
    with torch.inference_mode():
        out = net(torch.randn(1, 2, 12_345))
    assert out.shape == (1, 2, 2, 12_345) and torch.isfinite(out).all()


def test_mel_bands_cover_every_bin():
    cfg = config_from_yaml(tiny("mel"))
    bands = mel_bands(cfg)
    assert bands.shape == (12, 257) and bands.any(dim=0).all()


@pytest.mark.parametrize(("change", "message"), [
    ({"freqs_per_bands": BANDS[:-1]}, "freqs_per_bands add up to 240"),
    ({"dim_freqs_in": 1025}, "dim_freqs_in 1025 is not stft_n_fft // 2 + 1 = 257"),
    ({"use_pope": True}, "use_pope"),
    ({"hyper_connections": 4}, "hyper_connections, which this RoFormer implementation"),
], ids=["bands", "bins", "pope", "unknown-key"])
def test_config_that_cannot_be_honoured_is_refused(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        config_from_yaml(dict(tiny("bs"), **change))


def test_a_config_of_another_architecture_is_refused():
    with pytest.raises(ValueError, match="neither freqs_per_bands"):
        config_from_yaml({"num_subbands": 4, "dim": 16})  # an MDX23C config
