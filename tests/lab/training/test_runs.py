"""The training runs' shared parts: the moving average of the weights."""

from __future__ import annotations

import pytest
import torch

from lab.training.runs import WeightAverage


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
