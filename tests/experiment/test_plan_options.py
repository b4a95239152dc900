"""Options of the YAML sections reach the stage functions (nothing dropped on the way)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamap.experiment.config import load_config
from datamap.experiment.runner import plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rotten_tomatoes_mixup.yaml"


@pytest.fixture()
def the_plan(tmp_path):
    cfg = load_config(EXAMPLE, ["seeds=[1]", "train.max_length=64", "train.eval_batch_size=24",
                                "cartography.train={max_length: 40, eval_batch_size: 16}",
                                "experiments[0].train={max_length: 48}",
                                "cartography.metrics={entropy_epoch: -2, burn_out: 2}", "cartography.maps=[]",
                                "ensemble=[{name: ens, members: [amb_33, rand_33]}]", f"out={tmp_path / 'exp'}"])
    return plan(cfg, tmp_path / "exp")


def test_each_run_is_evaluated_with_its_own_max_length_and_batch_size(the_plan):
    params = {s.id: s.params for s in the_plan.stages if s.kind in ("evaluate", "ensemble")}
    assert params["seed1/cartography/eval/validation"]["max_length"] == 40
    assert params["seed1/cartography/eval/validation"]["batch_size"] == 16
    assert params["seed1/amb_33/eval/test"]["max_length"] == 48
    assert params["seed1/rand_33/eval/test"]["max_length"] == 64
    assert params["seed1/rand_33/eval/test"]["batch_size"] == 24
    assert params["seed1/ens/eval/test"]["max_length"] == 48 and params["seed1/ens/eval/test"]["batch_size"] == 24


def test_actions_pass_entropy_epoch_and_the_ensemble_batch_size(the_plan, monkeypatch):
    seen = {}
    import datamap.stages.evaluate as evaluate
    import datamap.stages.measure as measure

    monkeypatch.setattr(measure, "measure_run", lambda run, **kw: seen.setdefault("metrics", kw))
    monkeypatch.setattr(evaluate, "ensemble", lambda *a, **kw: seen.setdefault("ensemble", kw))
    the_plan.stage("seed1/cartography/metrics").action()
    the_plan.stage("seed1/ens/eval/test").action()
    assert seen["metrics"]["entropy_epoch"] == -2 and seen["metrics"]["burn_out"] == 2
    assert seen["ensemble"]["batch_size"] == 24 and seen["ensemble"]["max_length"] == 48


def test_the_errors_section_reaches_datamap_errors(tmp_path, monkeypatch):
    """Every key of the YAML `errors` section (ErrorsOptions' YAML fields) reaches find_errors, the flagged weight
    reaches weights_run."""
    cfg = load_config(EXAMPLE, ["seeds=[1]", f"out={tmp_path / 'exp'}",
                                "errors={method: el2n, cut: 'top:5', percentile: 90, max_class_share: 0.4, "
                                "force_flag: true, flagged_weight: 0.2}"])
    the_plan = plan(cfg, tmp_path / "exp")
    seen = {}
    import datamap.stages.actions as actions
    import datamap.stages.errors as errors

    monkeypatch.setattr(errors, "find_errors", lambda run, **kw: seen.setdefault("errors", kw))
    monkeypatch.setattr(actions, "relabel_run", lambda *a, **kw: None)
    monkeypatch.setattr(actions, "weights_run", lambda *a, **kw: seen.setdefault("weights", kw))
    stage = next(s for s in the_plan.stages if s.kind == "errors")
    stage.action()
    assert {k: seen["errors"][k] for k in ("method", "cut", "percentile", "max_class_share", "force_flag")} == {
        "method": "el2n", "cut": "top:5", "percentile": 90, "max_class_share": 0.4, "force_flag": True}
    assert seen["weights"]["flagged_weight"] == 0.2
