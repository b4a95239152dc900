"""No drift between the front ends: a default written in the CLI equals the one of the function it calls,
of the Python API and of the YAML runner's sections, and every training option is reachable from the CLI."""

from __future__ import annotations

import inspect

import pytest
import typer

from datamap.cli import app


def cli_defaults(command: str) -> dict:
    cb = next(c.callback for c in app.registered_commands if (c.name or c.callback.__name__) == command)
    out = {}
    for p in inspect.signature(cb).parameters.values():
        if isinstance(p.default, (typer.models.OptionInfo, typer.models.ArgumentInfo)):
            out[p.name] = p.default.default
    return out


def function_defaults(fn) -> dict:
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.default is not inspect.Parameter.empty}


def _stage(command: str):
    from datamap.stages import cluster, crossval, embed, errors, evaluate, interop, measure, noise, select
    from datamap.stages import actions
    from datamap.views import interactive, report, static

    return {
        "metrics": [measure.measure_run],
        "plot": [static.write_map_png, interactive.write_html_map],
        "import-dynamics": [interop.import_dynamics],
        "export-dynamics": [interop.export_dynamics],
        "evaluate": [evaluate.evaluate],
        "ensemble": [evaluate.ensemble],
        "report": [report.write_report],
        "select": [select.select_run],
        "embed": [embed.embed],
        "noise": [noise.make_noisy],
        "errors": [errors.find_errors],
        "relabel": [actions.relabel_run],
        "weights": [actions.weights_run],
        "crossval": [crossval.crossval],
        "cluster": [cluster.fit_clusters, cluster.cluster_trajectories],
    }.get(command, [])


COMMANDS = [c.name or c.callback.__name__ for c in app.registered_commands]
# an option the CLI gives a different meaning or type than the function's parameter of the same name
NOT_THE_SAME = {("ensemble", "weights"), ("select", "recipe")}


@pytest.mark.parametrize("command", [c for c in COMMANDS if _stage(c)])
def test_cli_defaults_equal_the_stage_functions(command):
    cli = cli_defaults(command)
    checked = 0
    for fn in _stage(command):
        for name, default in function_defaults(fn).items():
            if name in cli and (command, name) not in NOT_THE_SAME and cli[name] is not ...:
                assert cli[name] == default, f"{command} --{name.replace('_', '-')}: CLI {cli[name]!r}, {fn.__qualname__} {default!r}"
                checked += 1
    assert checked or command in ("relabel", "report", "export-dynamics"), command


def test_cluster_defaults_equal_the_yaml_section():
    from datamap.experiment.config import ClustersSpec

    cli = cli_defaults("cluster")
    spec = ClustersSpec.model_fields
    for name in ("method", "k", "normalize", "on", "standardize"):
        if name in spec and spec[name].default is not None:
            assert cli[name] == spec[name].default or name == "k", name


def test_metrics_defaults_equal_the_yaml_section_and_the_api():
    from datamap import api
    from datamap.experiment.config import MetricsSpec

    cli = cli_defaults("metrics")
    for name, field in MetricsSpec.model_fields.items():
        assert cli[name] == field.default, name
    for name, default in function_defaults(api.compute_metrics).items():
        if name in cli:
            assert cli[name] == default, name
    assert function_defaults(api.assign_regions)["fraction"] == cli["fraction"]


def test_every_training_option_is_a_flag_with_the_configs_default():
    from datamap.training.config import MixupConfig, TrainConfig

    cli = cli_defaults("train")
    renamed = {"checkpoint": "no_checkpoint", "save_model": "no_save_model"}
    for model, prefix in ((TrainConfig, ""), (MixupConfig, "")):
        for name, field in model.model_fields.items():
            if model is TrainConfig and name == "mixup":
                continue
            flag = renamed.get(name, name)
            assert flag in cli, f"TrainConfig.{name} has no flag"
            if flag == name and not field.is_required():
                want = field.get_default(call_default_factory=True)
                assert cli[name] == want or (cli[name] is None and want is None), name


def test_errors_defaults_equal_the_yaml_section_and_the_api():
    from datamap import api
    from datamap.experiment.config import ErrorsSpec

    cli = cli_defaults("errors")
    spec = ErrorsSpec.model_fields
    for name in ("method", "cut", "max_class_share", "force_flag"):
        assert spec[name].default == cli[name], name
    assert spec["flagged_weight"].default == cli_defaults("weights")["flagged_weight"]
    assert function_defaults(api.label_issues)["method"] == cli["method"]
