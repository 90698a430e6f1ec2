"""Demucs checkpoints: read without running pickled code, in both of demucs' file layouts."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest
import torch

from engine import ModelError, Separator
from engine.importing import recognise
from tests.conftest import music
from tests.engine.backends import checkpoints as ck


def test_a_checkpoint_naming_other_code_is_refused_unrun(tmp_path):
    path = tmp_path / "evil.th"
    torch.save({"klass": collections.OrderedDict, "args": [], "kwargs": {}, "state": {}}, path)
    with pytest.raises(ModelError, match="names collections.OrderedDict, which is not a Demucs "
                       "model class; Stemma runs no code from checkpoints"):
        recognise(path)


def test_safetensors_layout_gives_what_the_th_file_gives(tmp_path):
    """demucs' Hugging Face layout: the state as tensors, klass/args/kwargs as JSON metadata."""
    from safetensors.torch import save_file

    th = ck.write_demucs(tmp_path)
    package = torch.load(th, weights_only=False)
    kwargs = {k: ({"_type": "fraction", "numerator": v.numerator, "denominator": v.denominator}
                  if k == "segment" else v) for k, v in package["kwargs"].items()}
    st = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in package["state"].items()}, str(st), metadata={
        "klass": "demucs.htdemucs.HTDemucs", "args": json.dumps(list(package["args"])),
        "kwargs": json.dumps(kwargs)})
    assert recognise(st).stems == recognise(th).stems == tuple(ck.SOURCES)
    mix = music(1.5, 44100, 2)
    a = Separator(th, device="cpu").separate(mix, 44100)
    b = Separator(st, device="cpu").separate(mix, 44100)
    assert all(np.array_equal(a[name], b[name]) for name in ck.SOURCES)
