"""The training runs' shared parts: the moving average of the weights."""

from __future__ import annotations

import pytest
import torch

from engine.nn.serialization import save_model
from lab.training.runs import WeightAverage, average_models


def test_the_average_follows_the_optimizers_steps_with_its_warm_up_then_its_decay():
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.zero_()
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)  # in place, as an optimizer steps
    expected = 0.0
    for n in range(1, 40):
        average.update()
        decay = min(0.9, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay)
        assert average.state["weight"][0, 0].item() == pytest.approx(expected, abs=1e-6)
    assert 0.9 < expected < 1.0  # it approaches the weights and lags behind them
    assert model.weight[0, 0].item() == 1.0  # the model itself is left alone


def test_a_resumed_average_starts_where_it_was_and_keeps_its_decay():
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
    saved = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    average = WeightAverage(model, decay=0.5, start=saved, updates=1000)
    average.update()
    assert average.state["weight"][0, 0].item() == pytest.approx(0.5)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_a_decay_outside_zero_to_one_is_refused(decay):
    with pytest.raises(ValueError, match="between 0 and 1"):
        WeightAverage(torch.nn.Linear(2, 1), decay)


def _model_file(path, value: float, config: dict | None = None, steps: int = 7):
    state = {"weight": torch.full((2, 3), value), "steps": torch.tensor(steps)}
    return save_model(path, state, "masks", config or {"features": 3})


def test_a_soup_is_the_weighted_mean_of_the_weights_and_keeps_the_counters(tmp_path):
    a = _model_file(tmp_path / "a.safetensors", 1.0)
    b = _model_file(tmp_path / "b.safetensors", 4.0)
    kind, config, state = average_models([a, b])
    assert (kind, config) == ("masks", {"features": 3})
    assert torch.allclose(state["weight"], torch.full((2, 3), 2.5))
    assert state["steps"].item() == 7
    _, _, state = average_models([a, b], [3.0, 1.0])  # shares are normalised
    assert torch.allclose(state["weight"], torch.full((2, 3), 1.75))


def test_models_of_other_architectures_or_disagreeing_counters_are_not_averaged(tmp_path):
    a = _model_file(tmp_path / "a.safetensors", 1.0)
    with pytest.raises(ValueError, match="another architecture"):
        average_models([a, _model_file(tmp_path / "b.safetensors", 1.0, {"features": 4})])
    with pytest.raises(ValueError, match="cannot be averaged"):
        average_models([a, _model_file(tmp_path / "c.safetensors", 1.0, steps=8)])
    with pytest.raises(ValueError, match="positive"):
        average_models([a, a], [1.0, 0.0])
