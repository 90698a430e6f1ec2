"""The models Stemma ships: every file matches its manifest, and each ONNX graph computes what
the shipped torch weights compute (the graphs are exported from those very weights)."""

from __future__ import annotations

import pytest

from engine import registry
from export_onnx.codec import check as check_codec
from export_onnx.separator import check_conditioner
from lab.nn.codec import load_codec
from lab.nn.tokenlm import load_separator

CODECS = {m.name: m for m in registry.list_codecs()}
SEPARATORS = {m.name: m for m in registry.list_models()}


@pytest.mark.parametrize("name", ["classic", "tokenlm"])
def test_shipped_separator_is_installed_and_intact(name):
    assert name in SEPARATORS, f"{name} is not installed: {sorted(SEPARATORS)}"
    SEPARATORS[name].verify()


def test_shipped_codec_onnx_matches_its_weights():
    info = CODECS["hcodec-small"]
    info.verify()
    codec = load_codec(info.file("codec.safetensors"))
    result = check_codec(codec, info.file("encoder.onnx"), info.file("decoder.onnx"))
    # rounding flips some codes between near-equal neighbours; they must decode alike
    assert result["same_codes"] > 0.8, result
    assert result["code_gap"] < 0.05, result
    assert result["relative_error"] < 1e-3, result


def test_shipped_conditioner_onnx_matches_its_weights():
    info = SEPARATORS["tokenlm"]
    assert CODECS[info.params["codec"]]  # the codec its tokens belong to is shipped too
    model = load_separator(info.file("separator.safetensors"))
    assert check_conditioner(model, info.file("conditioner.onnx")) < 1e-3
