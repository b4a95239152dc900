"""The options models of errors, noise, relabel, weights, crossval, evaluate, ensemble, report, import- and
export-dynamics (datamap.stages.options): a value out of a model's range or choices is a one-line error
naming its flag, before any work; the YAML sections that differ from a model on purpose share its defaults."""

from __future__ import annotations

import pytest

from conftest import cli_error
from datamap.cli import main


# (argv before the bad option, option, value, message): RUN does not exist, so only the model can refuse
RANGES = [
    (["errors", "{run}"], "--top", "-1", "--top: must be >= 0, got -1"),
    (["errors", "{run}"], "--percentile", "101", "--percentile: must be <= 100, got 101.0"),
    (["errors", "{run}"], "--percentile", "-1", "--percentile: must be >= 0, got -1.0"),
    (["errors", "{run}"], "--max-class-share", "1.5", "--max-class-share: must be <= 1, got 1.5"),
    (["errors", "{run}"], "--method", "best", "--method: must be one of confidence, aum, el2n, forgetfulness, "
                                              "rank_mean, class_confidence, cleanlab, got 'best'"),
    (["errors", "{run}"], "--cut", "top:0", "--cut: top:K must be an integer >= 1, got 0"),
    (["weights", "{run}", "--out", "{run}/w.parquet"], "--flagged-weight", "-1", "--flagged-weight: must be >= 0, got -1.0"),
    (["weights", "{run}", "--out", "{run}/w.parquet"], "--flagged-weight", "inf",
     "--flagged-weight: must be a finite number, got inf"),
    (["evaluate", "{run}", "--dataset", "toy"], "--batch-size", "0", "--batch-size: must be >= 1, got 0"),
    (["evaluate", "{run}", "--dataset", "toy"], "--max-length", "0", "--max-length: must be >= 1, got 0"),
    (["ensemble", "{run}", "{run}", "--dataset", "toy", "--out", "{run}/ens"], "--batch-size", "0",
     "--batch-size: must be >= 1, got 0"),
    (["ensemble", "{run}", "{run}", "--dataset", "toy", "--out", "{run}/ens"], "--max-length", "0",
     "--max-length: must be >= 1, got 0"),
    (["noise", "{run}/data.csv", "--out", "{run}/n.csv", "--rate", "0.1"], "--seed", "-1", "--seed: must be >= 0, got -1"),
    (["noise", "{run}/data.csv", "--out", "{run}/n.csv", "--rate", "0.1"], "--kind", "gauss",
     "--kind: must be one of uniform, pairs, matrix, got 'gauss'"),
    (["crossval", "{run}", "--out", "{run}/cv"], "--folds", "1", "--folds: must be >= 2, got 1"),
    (["crossval", "{run}", "--out", "{run}/cv"], "--seed", "-1", "--seed: must be >= 0, got -1"),
]


@pytest.mark.parametrize("argv,option,value,message", RANGES, ids=[f"{a[0]}{o}={v}" for a, o, v, _ in RANGES])
def test_a_value_out_of_the_models_range_names_its_flag(tmp_path, capsys, argv, option, value, message):
    run = tmp_path / "missing"
    args = [a.replace("{run}", str(run)) for a in argv]
    assert cli_error(capsys, *args, option, value) == f"error: {message}\n"
    assert not run.exists()


def test_a_required_option_of_a_model_is_required_at_the_cli(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["relabel", str(tmp_path)])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err


def test_the_evaluation_and_ensemble_sections_share_the_models_defaults():
    # the YAML's evaluation[i] and ensemble[i] differ on purpose (a named set, member runs, each run's own
    # max_length and eval_batch_size); what they share with evaluate and ensemble has the same default
    from datamap.experiment.config import EnsembleSpec, EvalSpec
    from datamap.stages.options.ensemble import EnsembleOptions
    from datamap.stages.options.evaluate import EvaluateOptions

    for name in ("split", "text_column", "text_pair_column"):
        assert EvalSpec.model_fields[name].default == EvaluateOptions.default(name), name
    assert EnsembleSpec.model_fields["weights"].default == EnsembleOptions.default("weights")
    assert EnsembleOptions.default("split") == EvaluateOptions.default("split")


def test_the_api_takes_the_errors_models_defaults():
    import inspect

    from datamap import api
    from datamap.stages.options.errors import ErrorsOptions

    assert inspect.signature(api.label_issues).parameters["method"].default == ErrorsOptions.default("method")


def test_the_errors_section_is_the_two_models():
    from datamap.experiment.config import ErrorsSpec
    from datamap.stages.options.errors import ErrorsOptions
    from datamap.stages.options.weights import WeightsOptions

    assert list(ErrorsSpec.model_fields) == ErrorsOptions.yaml_fields() + WeightsOptions.yaml_fields()
    with pytest.raises(Exception, match="must be one of"):
        ErrorsSpec(method="best")
    with pytest.raises(Exception, match="extra"):
        ErrorsSpec(top=3)  # printing is the command's, not the runner's


@pytest.mark.parametrize("model,given,message", [
    ("noise.NoiseOptions", {"out": "n.csv", "kind": "gauss"}, "--kind: must be one of uniform, pairs, matrix, got 'gauss'"),
    ("errors.ErrorsOptions", {"method": "best"}, "--method: must be one of confidence, aum, el2n"),
    ("errors.ErrorsOptions", {"cut": "most"}, "--cut: must be one of auto, aum0"),
])
def test_the_models_refuse_a_value_outside_their_choices(model, given, message):
    # the stage functions check these too; the model refuses them itself (the API, the YAML section)
    import importlib

    from datamap.errors import DatamapError

    module, name = model.split(".")
    cls = getattr(importlib.import_module(f"datamap.stages.options.{module}"), name)
    with pytest.raises(DatamapError, match=f"^{message}"):
        cls.from_cli(**given)
