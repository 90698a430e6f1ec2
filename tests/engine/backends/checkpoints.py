"""Random-weight checkpoints written in the formats other projects publish, small enough for
tests: a Demucs model and a bag, saved by the demucs package's own functions; an MDX-Net
ONNX graph as UVR runs them; BS- and Mel-RoFormer state dicts with configs in the
Music-Source-Separation-Training layout."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

SOURCES = ["drums", "bass", "other", "vocals"]


def write_demucs(folder: Path, seed: int = 0, segment: float = 2.0) -> Path:
    """A tiny HTDemucs, saved as demucs' training exports it: ``serialize_model`` then
    ``save_with_checksum`` (the file is ``tiny<seed>-<sha256[:8]>.th``)."""
    from demucs.htdemucs import HTDemucs
    from demucs.states import save_with_checksum, serialize_model
    from omegaconf import OmegaConf

    torch.manual_seed(seed)
    model = HTDemucs(SOURCES, channels=4, depth=4, nfft=4096, t_layers=1, t_heads=2,
                     t_hidden_scale=1.0, dconv_comp=4, segment=Fraction(segment))
    package = serialize_model(model, OmegaConf.create({"seed": seed}), half=True)
    folder.mkdir(parents=True, exist_ok=True)
    save_with_checksum(package, folder / f"tiny{seed}.th")
    return next(folder.glob(f"tiny{seed}-*.th"))


def write_demucs_bag(folder: Path) -> Path:
    """Two tiny HTDemucs and a bag YAML weighting them per stem, as demucs' remote bags."""
    sigs = [write_demucs(folder, seed).name.split("-")[0] for seed in (1, 2)]
    bag = folder / "tinybag.yaml"
    bag.write_text(f"models: {sigs}\nweights: [[1., 1., 0., 1.], [0., 1., 1., 1.]]\n")
    return bag


def mdx_graph(dim_f: int, dim_t: int, scale: float, seed: int = 0):
    """(batch, 4, dim_f, dim_t) -> same: ``x + scale * conv3x3(x)``, random weights.
    ``scale=0`` is the identity: the model gives back the spectrogram it is fed."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((4, 4, 3, 3)).astype(np.float32) * np.float32(scale / 6)
    shape = ["batch", 4, dim_f, dim_t]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["conv"], pads=[1, 1, 1, 1]),
         helper.make_node("Add", ["input", "conv"], ["output"])],
        "mdx_net_shaped",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(weight, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def write_mdx(path: Path, dim_f: int = 256, dim_t: int = 32, scale: float = 1.0) -> Path:
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(mdx_graph(dim_f, dim_t, scale), str(path))
    return path


def uvr_hash(path: Path) -> str:
    """UVR's model hash, written out here as UVR computes it (md5 of the last 10 000 KiB)."""
    data = path.read_bytes()
    return hashlib.md5(data[-10000 * 1024:]).hexdigest()


BS_MODEL = {"dim": 16, "depth": 1, "stereo": True, "num_stems": 1,
            "time_transformer_depth": 1, "freq_transformer_depth": 1,
            "linear_transformer_depth": 0, "dim_head": 8, "heads": 2, "attn_dropout": 0.1,
            "ff_dropout": 0.1, "flash_attn": True, "dim_freqs_in": 257, "stft_n_fft": 512,
            "stft_hop_length": 128, "stft_win_length": 512, "stft_normalized": False,
            "mask_estimator_depth": 2, "multi_stft_resolution_loss_weight": 1.0,
            "multi_stft_resolutions_window_sizes": (512, 256), "multi_stft_hop_size": 147,
            "multi_stft_normalized": False, "mlp_expansion_factor": 2}
BANDS = (2,) * 8 + (4,) * 8 + (16,) * 4 + (32,) * 4 + (17,)  # 257 bins


def roformer_yaml(model: dict, chunk_size: int = 22050 * 2, target: str | None = "vocals",
                  instruments: tuple[str, ...] = ("vocals", "other")) -> str:
    """A config as the training repository publishes them (tuples tagged !!python/tuple)."""
    lines = ["audio:", f"  chunk_size: {chunk_size}", "  num_channels: 2",
             "  sample_rate: 44100", "  min_mean_abs: 0.0", "", "model:"]
    for key, value in model.items():
        if isinstance(value, tuple):
            lines += [f"  {key}: !!python/tuple"] + [f"  - {v}" for v in value]
        else:
            lines.append(f"  {key}: {str(value).lower() if isinstance(value, bool) else value}")
    lines += ["", "training:", "  batch_size: 2", "  instruments:"]
    lines += [f"  - {name}" for name in instruments]
    lines += [f"  target_instrument: {target if target else 'null'}", "  use_amp: true", "",
              "inference:", "  batch_size: 1", "  num_overlap: 2", ""]
    return "\n".join(lines)


def write_roformer(folder: Path, arch: str = "bs", seed: int = 0, **overrides) -> Path:
    """A random BS- (``arch="bs"``) or Mel-RoFormer (``"mel"``) state dict as ``.ckpt`` and
    its config beside it as ``.yaml`` (the same name)."""
    from engine.backends.roformer_net import Roformer, config_from_yaml

    model = dict(BS_MODEL, freqs_per_bands=BANDS)
    if arch == "mel":
        model = dict(BS_MODEL, num_bands=12, sample_rate=44100)
    model.update(overrides.pop("model", {}))
    torch.manual_seed(seed)
    net = Roformer(config_from_yaml(model))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"tiny_{arch}_roformer.ckpt"
    torch.save(net.state_dict(), path)
    path.with_suffix(".yaml").write_text(roformer_yaml(model, **overrides))
    return path
