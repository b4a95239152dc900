"""The loop's learning-rate schedule: linear warm-up, then linear decay to 0 (our own, so that a training's start does
not import ``transformers.optimization``, which pulls in the Trainer's utilities and peft)."""

import pytest
import torch

from datamap.training.loop_parts import linear_warmup


def _lrs(make, steps: int) -> list[float]:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=5e-5)
    scheduler = make(optimizer)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("warmup,total", [(0, 10), (3, 10), (10, 10), (1, 1), (6, 534)])
def test_equals_transformers_linear_schedule_exactly(warmup, total):
    from transformers import get_linear_schedule_with_warmup

    ours = _lrs(lambda opt: linear_warmup(opt, warmup, total), total + 3)  # past the end: 0
    theirs = _lrs(lambda opt: get_linear_schedule_with_warmup(opt, warmup, total), total + 3)
    assert ours == theirs


def test_hand_made_values():
    assert _lrs(lambda opt: linear_warmup(opt, 2, 6), 8) == pytest.approx(
        [0.0, 2.5e-5, 5e-5, 3.75e-5, 2.5e-5, 1.25e-5, 0.0, 0.0], abs=1e-15)


def test_state_round_trip_resumes_the_same_schedule():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    sched = linear_warmup(opt, 2, 8)
    for _ in range(3):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    opt2.load_state_dict(opt.state_dict())
    sched2 = linear_warmup(opt2, 0, 1)  # wrong shape on purpose: the state restores warm-up and total
    sched2.load_state_dict(state)
    for _ in range(4):
        opt.step(); sched.step(); opt2.step(); sched2.step()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
