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
    from datamap.stages import cluster, compare, crossval, embed, errors, evaluate, interop, measure, noise, select
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
        "cluster": [cluster.fit_clusters, cluster.cluster_trajectories, cluster.check_options],
        "compare": [compare.write_compare],
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


# ---- the options models (datamap.stages.options): one definition, read by the CLI, the YAML runner and the API


def _command(name: str):
    return next(c.callback for c in app.registered_commands if (c.name or c.callback.__name__) == name)


MODELLED = [c for c in COMMANDS if getattr(_command(c), "__options__", None) is not None]


def _section(path: str):
    """The YAML runner's model at ``path`` (``cartography.metrics``, ``errors``; ``[]`` steps into a list)."""
    import typing

    from datamap.experiment.config import ExperimentConfig

    model = ExperimentConfig
    for part in path.split("."):
        annotation = model.model_fields[part].annotation
        while typing.get_origin(annotation) is not None:  # Optional[X], list[X], dict[str, X] -> X
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[-1]
        model = annotation
    return model


def test_the_options_models_cover_the_commands():
    # every command but train (TrainConfig) and run (a YAML file) is generated from an options model
    missing = set(COMMANDS) - set(MODELLED) - {"train", "run"}
    assert not missing, sorted(missing)


@pytest.mark.parametrize("command", MODELLED)
def test_every_cli_option_is_the_models(command):
    model = _command(command).__options__
    cli = cli_defaults(command)
    for name in model.cli_fields():
        assert name in cli, f"{command}: {model.__name__}.{name} has no flag"
        default = model.default(name)
        if model.model_fields[name].is_required():
            assert cli[name] is ..., f"{command} {model.flag(name)}: required in the model, not on the command line"
            continue
        assert cli[name] == default or (cli[name] is None and default in ([], ())), (
            f"{command} {model.flag(name)}: CLI {cli[name]!r}, model {default!r}")
    params = inspect.signature(_command(command)).parameters
    for name, p in params.items():
        if name in model.model_fields:
            assert p.default.param_decls[0].split("/")[0] == model.flag(name)


@pytest.mark.parametrize("command", [c for c in MODELLED if _command(c).__options__.section_path])
def test_every_yaml_option_is_the_models(command):
    model = _command(command).__options__
    section = _section(model.section_path)
    fields = section.model_fields
    for name in model.yaml_fields():
        assert name in fields, f"{command}: {model.__name__}.{name} is not a key of {model.section_path}"
        got = fields[name].get_default(call_default_factory=True)
        assert got == model.default(name), f"{model.section_path}.{name}: YAML {got!r}, model {model.default(name)!r}"
        assert fields[name].metadata == model.model_fields[name].metadata, f"{model.section_path}.{name}: range"


@pytest.mark.parametrize("command", MODELLED)
def test_the_stage_functions_take_the_models_defaults(command):
    model = _command(command).__options__
    for fn in _stage(command):
        for name, default in function_defaults(fn).items():
            if name in model.model_fields and (command, name) not in NOT_THE_SAME:
                assert default == model.default(name), f"{fn.__qualname__}({name}={default!r}), model {model.default(name)!r}"


def test_a_bad_value_names_its_flag():
    from datamap.errors import DatamapError
    from datamap.stages.options.metrics import MetricsOptions

    with pytest.raises(DatamapError, match=r"^--burn-out: must be >= 1, got 0$"):
        MetricsOptions.from_cli(burn_out=0)
    with pytest.raises(DatamapError, match="nonsense"):
        MetricsOptions.from_cli(nonsense=1)


def test_select_defaults_equal_the_yaml_sections_and_the_api():
    # SelectionSpec is not cut from SelectOptions (a part may be a list: a sweep; top/bottom are numbers there;
    # seed defaults to the run's), so the defaults they share are compared here, and with the core's Recipe
    import dataclasses

    from datamap import api
    from datamap.core.clusters import ClusterSpec
    from datamap.core.selection import Recipe
    from datamap.experiment.config import ClusterPart, SelectionSpec
    from datamap.stages.options.select import SelectOptions

    shared = ("ambiguous", "easy", "hard", "random", "by", "top", "bottom", "where", "data_pct", "drop_hard", "stratify",
              "drop_errors")
    for name in shared:
        want = SelectOptions.default(name)
        assert SelectionSpec.model_fields[name].get_default(call_default_factory=True) == want, name
    recipe = {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
              for f in dataclasses.fields(Recipe)}
    for name in shared[:-1]:
        assert recipe[name] == SelectOptions.default(name) or (recipe[name] == () and SelectOptions.default(name) == []), name
    cluster = {f.name: f.default for f in dataclasses.fields(ClusterSpec)}
    for name in ("budget", "k", "order", "rank"):
        assert ClusterPart.model_fields[name].default == SelectOptions.default(f"cluster_{name}") == cluster[name], name
    assert ClusterPart.model_fields["k"].metadata == SelectOptions.model_fields["cluster_k"].metadata
    assert function_defaults(api.select)["seed"] == SelectOptions.default("seed")


def test_plot_defaults_equal_the_api():
    from datamap import api
    from datamap.stages.options.plot import PlotOptions

    assert function_defaults(api.plot_map)["max_points"] == PlotOptions.default("max_points")


def test_clusters_section_is_the_embed_and_cluster_options():
    # cartography.clusters is cut from two models: its keys are exactly their YAML fields
    from datamap.experiment.config import ClustersSpec
    from datamap.stages.options.cluster import ClusterOptions
    from datamap.stages.options.embed import EmbedOptions

    assert set(ClustersSpec.model_fields) == set(EmbedOptions.yaml_fields()) | set(ClusterOptions.yaml_fields())


@pytest.mark.parametrize(("command", "args", "message"), [
    ("plot", {"max_points": 0}, r"^--max-points: must be >= 1, got 0$"),
    ("plot", {"xy": "nope"}, r"^--xy: must be one of map, embedding, got 'nope'$"),
    ("plot", {"projection": "tsne"}, r"^--projection: must be one of pca, umap, got 'tsne'$"),
    ("select", {"out": "s", "seed": -1}, r"^--seed: must be >= 0, got -1$"),
    ("select", {"out": "s", "cluster_k": 0}, r"^--cluster-k: must be >= 1, got 0$"),
    ("select", {"out": "s", "cluster_mode": "all"}, r"^--cluster-mode: must be one of whole, .*, got 'all'$"),
    ("select", {"out": "s", "cluster_order": "smallest"}, r"^--cluster-order: must be one of largest, random, got 'smallest'$"),
    ("select", {}, r"^--out: is required$"),
    ("embed", {"batch_size": 0}, r"^--batch-size: must be >= 1, got 0$"),
    ("embed", {"max_length": -1}, r"^--max-length: must be >= 1, got -1$"),
    ("embed", {"pooling": "max"}, r"^--pooling: must be one of cls, mean, last, pooler, got 'max'$"),
    ("embed", {"dtype": "int8"}, r"^--dtype: must be one of float32, float16, got 'int8'$"),
    ("cluster", {"k": 0}, r"^--k: must be >= 1, got 0$"),
    ("cluster", {"batch_size": 0}, r"^--batch-size: must be >= 1, got 0$"),
    ("cluster", {"eps": 0.0}, r"^--eps: must be > 0, got 0.0$"),
    ("cluster", {"eps": float("inf")}, r"^--eps: must be a finite number, got inf$"),
    ("cluster", {"min_samples": 0}, r"^--min-samples: must be >= 1, got 0$"),
    ("cluster", {"seed": -1}, r"^--seed: must be >= 0, got -1$"),
    ("cluster", {"on": "tokens"}, r"^--on: must be one of embeddings, trajectories, got 'tokens'$"),
    ("cluster", {"method": "spectral"}, r"^--method: must be one of minibatch-kmeans, kmeans, dbscan, got 'spectral'$"),
])
def test_a_bad_value_of_a_modelled_command_names_its_flag(command, args, message):
    from datamap.errors import DatamapError

    with pytest.raises(DatamapError, match=message):
        _command(command).__options__.from_cli(**args)
