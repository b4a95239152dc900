"""The `datamap` command line: one thin subcommand per stage.

Every command reads and writes a run directory (docs/run-directory.md). Bad input prints
``error: <one line>`` and exits with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from datamap.cli_options import with_options
from datamap.errors import DatamapError
from datamap.stages.options.cluster import ClusterOptions
from datamap.stages.options.compare import CompareOptions
from datamap.stages.options.embed import EmbedOptions
from datamap.stages.options.metrics import MetricsOptions
from datamap.stages.options.plot import PlotOptions
from datamap.stages.options.select import SelectOptions
from datamap.stages.options.crossval import CrossvalOptions
from datamap.stages.options.ensemble import EnsembleOptions
from datamap.stages.options.errors import ErrorsOptions
from datamap.stages.options.evaluate import EvaluateOptions
from datamap.stages.options.export_dynamics import ExportDynamicsOptions
from datamap.stages.options.import_dynamics import ImportDynamicsOptions
from datamap.stages.options.noise import NoiseOptions
from datamap.stages.options.relabel import RelabelOptions
from datamap.stages.options.report import ReportOptions
from datamap.stages.options.weights import WeightsOptions
from datamap.training.config import (
    LambdaPer,
    LimitMode,
    MixupConfig,
    MixupMode,
    MixupSite,
    Pairing,
    ModelDtype,
    Pooling,
    Precision,
    RecordMode,
    Task,
    TrainConfig,
)

app = typer.Typer(
    name="datamap",
    help="Training dynamics for transformer text classifiers: record, measure, map, select, retrain, evaluate.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        from datamap import __version__

        typer.echo(f"datamap {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no informational lines; warnings and errors still show. Also accepted after the command (datamap train --quiet ...)."),
) -> None:
    """Training dynamics for transformer text classifiers: record, measure, map, select, retrain, evaluate.

    Typical run: `datamap train` -> `datamap metrics` -> `datamap plot [--html]` -> `datamap select`
    -> `datamap train --subset` -> `datamap evaluate` / `compare` / `report`.
    """
    from datamap.console import set_quiet

    set_quiet(quiet)


# --json and --quiet: the shared helpers of every command that prints a summary
JSON_HELP = "Print the summary as one JSON object on stdout instead of text (nothing else goes to stdout)."


def json_flag() -> bool:
    """The ``--json`` option of a command that prints a summary (see :func:`emit`)."""
    return typer.Option(False, "--json", help=JSON_HELP)


def emit(result, as_json: bool, text=None) -> None:
    """Print a command's :class:`datamap.stages.commands.Result` as JSON (``--json``: its ``summary()``), or
    call ``text()`` to print it for people (unless ``--quiet``)."""
    from datamap.console import is_quiet

    summary = result.summary()

    if as_json:
        import json

        typer.echo(json.dumps(_finite(summary), ensure_ascii=False, allow_nan=False, default=_json_default))
    elif text is not None and not is_quiet():
        text()


def _finite(value):
    """NaN and infinities as null: the printed JSON is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_mode(as_json: bool) -> None:
    """With ``--json`` the informational lines (and progress) stay off, so stdout is the JSON alone."""
    if as_json:
        from datamap.console import set_quiet

        set_quiet(True)


def main_process() -> bool:
    """Whether this is the process that speaks: Accelerate's state (what the training loop and embed
    ask), so that under ``accelerate launch`` only the main process prints its summary."""
    from accelerate import PartialState

    return PartialState().is_main_process


def echo(line: str) -> None:
    """An informational line (``wrote ...``): not under ``--quiet`` or ``--json``."""
    from datamap.console import say

    say(line)


def _default(name: str, section: str = "") -> object:
    """The training config's default of a field: each default is defined once, in the config."""
    return (MixupConfig if section == "mixup" else TrainConfig).model_fields[name].get_default(call_default_factory=True)


# The parameters are named like the fields of TrainConfig (the --mixup-* ones like those of MixupConfig;
# --no-save-model sets save_model), so the options the user gave pass on by name and the config fills
# in the rest; a --mixup-* option given without --mixup is then an error even at its default value.
@app.command()
def train(
    ctx: typer.Context,
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Hub name, local mirror name ($DATAMAP_DATA_DIR/NAME/SPLIT.parquet), file or folder (required unless --resume)."),
    model: str = typer.Option(_default("model"), "--model", help="Model folder, hub name, or the alias `minilm`."),
    dataset_config: Optional[str] = typer.Option(_default("dataset_config"), "--dataset-config", help="Hub dataset configuration (e.g. --dataset glue --dataset-config sst2), or the mirror folder NAME/CONFIG/."),
    revision: Optional[str] = typer.Option(_default("revision"), "--revision", help="Branch, tag or commit of a hub dataset (hub datasets only)."),
    out: Path = typer.Option(_default("out"), "--out", help="Run directory to write."),
    split: str = typer.Option(_default("split"), "--split", help="Training split."),
    eval_split: str = typer.Option(_default("eval_split"), "--eval-split", help="In-domain evaluation split ('auto': validation if it exists; of a single file, a seeded stratified 10 % held out; 'none': skip). The training split itself is evaluated with a warning, saved as eval/SPLIT-same-as-train.json."),
    eval_datasets: List[str] = typer.Option(_default("eval_datasets"), "--eval-dataset", help="Extra evaluation set: NAME[:SPLIT] or a file (repeatable)."),
    text_column: Optional[str] = typer.Option(_default("text_column"), "--text-column", help="Text column (default: text, sentence, premise, ...)."),
    text_pair_column: Optional[str] = typer.Option(_default("text_pair_column"), "--text-pair-column", help="Second text for pairs (hypothesis is found when text is premise)."),
    label_column: str = typer.Option(_default("label_column"), "--label-column", help="Label column (integers or names)."),
    id_column: Optional[str] = typer.Option(_default("id_column"), "--id-column", help="Id column (default: id/idx/guid, else a content hash)."),
    drop_empty: bool = typer.Option(_default("drop_empty"), "--drop-empty", help="Skip rows with empty or null text instead of stopping."),
    limit: Optional[int] = typer.Option(_default("limit"), "--limit", help="Use only N training examples (quick runs)."),
    limit_mode: LimitMode = typer.Option(_default("limit_mode"), "--limit-mode", help="stratified: N rows drawn with --limit-seed, each class in proportion; random: N rows drawn with --limit-seed; first: the first N rows (one class on a file sorted by label). Needs --limit."),
    limit_seed: int = typer.Option(_default("limit_seed"), "--limit-seed", help="Seed of --limit-mode stratified and random (independent of --seed). Needs --limit."),
    allow_single_class: bool = typer.Option(_default("allow_single_class"), "--allow-single-class", help="Train even when the training rows hold a single class (an error otherwise)."),
    subset: Optional[Path] = typer.Option(_default("subset"), "--subset", help="Selection JSON (RUN/selections/NAME.json): train on exactly these ids."),
    epochs: int = typer.Option(_default("epochs"), "--epochs"),
    batch_size: int = typer.Option(_default("batch_size"), "--batch-size"),
    eval_batch_size: int = typer.Option(_default("eval_batch_size"), "--eval-batch-size"),
    lr: float = typer.Option(_default("lr"), "--lr", help="Peak learning rate (AdamW, linear schedule with warm-up)."),
    weight_decay: float = typer.Option(_default("weight_decay"), "--weight-decay"),
    warmup_ratio: float = typer.Option(_default("warmup_ratio"), "--warmup-ratio", help="Fraction of the steps spent warming up, in [0, 1]."),
    max_grad_norm: float = typer.Option(_default("max_grad_norm"), "--max-grad-norm", help="Gradient clipping (0 disables)."),
    max_length: int = typer.Option(_default("max_length"), "--max-length", help="Truncate inputs to this many tokens."),
    seed: int = typer.Option(_default("seed"), "--seed"),
    record: RecordMode = typer.Option(_default("record"), "--record", help="inflight (logits of each training forward pass), epoch_end (a no_grad pass after each epoch), none."),
    export_jsonl: bool = typer.Option(_default("export_jsonl"), "--export-jsonl", help="Also write RUN/training_dynamics/dynamics_epoch_{e}.jsonl (allenai format)."),
    freeze_base: bool = typer.Option(_default("freeze_base"), "--freeze-base", help="Train only the classification head."),
    precision: Precision = typer.Option(_default("precision"), "--precision", help="auto (bf16 on a GPU that supports it), bf16, fp32."),
    no_save_model: bool = typer.Option(not _default("save_model"), "--no-save-model", help="Do not write RUN/model/."),
    no_checkpoint: bool = typer.Option(not _default("checkpoint"), "--no-checkpoint", help="Do not keep RUN/checkpoint/ after each epoch (the run cannot be resumed)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in --out from its last finished epoch, with its own config.yaml (no other options)."),
    overwrite: bool = typer.Option(_default("overwrite"), "--overwrite", help="Replace an existing run in --out (its metrics, maps, selections and evaluations are removed)."),
    as_json: bool = json_flag(),
    trust_remote_code: bool = typer.Option(_default("trust_remote_code"), "--trust-remote-code", help="Allow model code from the hub (off by default)."),
    loss: str = typer.Option(_default("loss"), "--loss", help="ce, or focal:GAMMA[,ALPHA]."),
    report_to: List[str] = typer.Option(_default("report_to"), "--report-to", help="Experiment tracker: tensorboard (RUN/tracking/), wandb or mlflow, when installed (repeatable): loss, learning rate, throughput, evaluation scores."),
    site: Optional[MixupSite] = typer.Option(None, "--mixup", help="Mixup site; the other --mixup-* options need it."),
    pairing: Pairing = typer.Option(_default("pairing", "mixup"), "--mixup-pairing", help="Partner of each example (td-entropy and easy-ambiguous need --dynamics-from)."),
    lam: str = typer.Option(_default("lam", "mixup"), "--mixup-lambda", help="beta:A, beta-folded:A, normal:MU,SIGMA or fixed:L."),
    lam_per: LambdaPer = typer.Option(_default("lam_per", "mixup"), "--mixup-lambda-per", help="Draw lambda per example or per batch."),
    mode: MixupMode = typer.Option(_default("mode", "mixup"), "--mixup-mode", help="Loss over the mixed rows only, or over the mixed and the original rows."),
    start_epoch: int = typer.Option(_default("start_epoch", "mixup"), "--mixup-start-epoch", help="First epoch (0-based) with mixup."),
    ratio: float = typer.Option(_default("ratio", "mixup"), "--mixup-ratio", help="Synthetic pairs per kept original per epoch."),
    dynamics_from: Optional[Path] = typer.Option(_default("dynamics_from"), "--dynamics-from", help="Earlier run whose regions and entropies drive td pairings and --drop-hard."),
    drop_hard: bool = typer.Option(_default("drop_hard"), "--drop-hard", help="Leave the hard-to-learn region of --dynamics-from out of the loss (likely mislabeled)."),
    embed: Optional[Pooling] = typer.Option(_default("embed"), "--embed", help="After the last epoch, also write RUN/embeddings.parquet with the trained encoder and this pooling (cls, mean, last, pooler): what datamap embed RUN would write."),
    compile: bool = typer.Option(_default("compile"), "--compile", help="torch.compile the training forward pass (inductor, CPU or CUDA); batches are padded up to a few bucket lengths so few graphs are compiled. Not with --mixup."),
    threshold_samples: bool = typer.Option(_default("threshold_samples"), "--threshold-samples", help="AUM threshold samples: give a seeded random floor(N/(C+1)) of the examples a fake class C (the model gets C+1 outputs; ids and original labels in RUN/threshold_samples.parquet) for the cut of datamap errors."),
    max_steps: Optional[int] = typer.Option(_default("max_steps"), "--max-steps", help="Stop after N optimizer steps (the schedule spans them; epochs run as needed, the last cut short)."),
    steps_like: Optional[Path] = typer.Option(_default("steps_like"), "--steps-like", help="Take as many optimizer steps as this earlier run (its history's step count): a subset trains as long as the full set."),
    weights: Optional[Path] = typer.Option(_default("weights"), "--weights", help="Per-example loss weights: a table of id and weight (datamap weights RUN writes one); each batch's loss is sum(w*loss)/sum(w)."),
    gradient_checkpointing: bool = typer.Option(_default("gradient_checkpointing"), "--gradient-checkpointing", help="Recompute activations in the backward pass instead of keeping them: less memory, about a third more time, the same gradients."),
    model_dtype: ModelDtype = typer.Option(_default("model_dtype"), "--model-dtype", help="Dtype of the weights loaded, trained and saved: float32 (default, any device; --precision bf16 autocasts on float32 weights), bfloat16 (half the memory for weights, gradients and optimizer state; pure bf16 training) or auto (the checkpoint's own dtype)."),
    grad_accum: int = typer.Option(_default("grad_accum"), "--grad-accum", help="One optimizer step every N batches: the update of one batch of N x --batch-size rows (mean over examples; sft: over target tokens) in the memory of one batch. The schedule, --max-steps and --steps-like count optimizer steps."),
    lora: Optional[str] = typer.Option(_default("lora"), "--lora", help="Train LoRA adapters (peft: pip install 'datamap[lora]') and the classification head instead of the whole model: r=16,alpha=32,dropout=0.05[,targets=query,value] (items optional; targets default to peft's for the family, else every linear layer). RUN/adapter/ holds the adapter, RUN/model/ the merged model."),
    task: Task = typer.Option(_default("task"), "--task", help="classify (a sequence classifier) or sft (a causal LM on prompt/completion, messages or text rows; per-example token losses recorded)."),
    train_on_prompt: bool = typer.Option(_default("train_on_prompt"), "--train-on-prompt", help="sft: loss and records on every token, not only the completion's."),
    max_new_tokens: int = typer.Option(_default("max_new_tokens"), "--max-new-tokens", help="sft: greedy generation length for the exact match on the evaluation sets."),
    record_every: Optional[int] = typer.Option(_default("record_every"), "--record-every", help="sft: record by a no_grad pass over the training set every N optimizer steps (denser trajectories than one point per epoch; in-flight recording off)."),
    record_sample: Optional[int] = typer.Option(_default("record_sample"), "--record-sample", help="sft, with --record-every: each pass covers the same seeded random K training examples instead of all of them."),
):
    """Fine-tune a classifier and record its training dynamics.

    Every option is checked before any file is read or written.

    Examples:

        datamap train --dataset rotten_tomatoes --model minilm --out runs/rt --epochs 3

        datamap train --dataset glue --dataset-config sst2 --revision main --out runs/sst2

        datamap train --dataset data/train.csv --text-column review --label-column stars --out runs/reviews

        datamap train --dataset mnli --split validation_matched --eval-dataset hans:validation --out runs/nli --record epoch_end

        datamap train --dataset rotten_tomatoes --subset runs/rt/selections/amb33.json --out runs/rt-amb33

        datamap train --dataset rotten_tomatoes --mixup pooled --mixup-pairing td-entropy --dynamics-from runs/rt --out runs/rt-tdmix

        datamap train --dataset snli --split validation --embed cls --out runs/snli   (then: datamap cluster runs/snli/embeddings.parquet)

        datamap train --dataset rotten_tomatoes --threshold-samples --out runs/rt-thr

        datamap train --dataset rotten_tomatoes --model Qwen/Qwen2.5-0.5B --lora r=16,alpha=32 --out runs/rt-lora

        datamap train --dataset rotten_tomatoes --out runs/rt --report-to tensorboard

        datamap train --dataset rotten_tomatoes --weights runs/rt/weights.parquet --out runs/rt-weighted

        datamap train --dataset rotten_tomatoes --subset runs/rt/selections/clean.json --steps-like runs/rt --out runs/rt-clean

        datamap train --task sft --dataset qa.jsonl --model runs/tiny-lm --out runs/sft   (prompt/completion rows)

        datamap train --resume --out runs/rt
    """
    from pydantic import ValidationError

    from datamap.training.config import config_error

    # by name: recent typer versions bring their own copy of click's ParameterSource
    json_mode(as_json)
    given = {name: value for name, value in ctx.params.items()
             if ctx.get_parameter_source(name).name not in ("DEFAULT", "DEFAULT_MAP") and name != "as_json"}
    if given.pop("resume", False):
        other = [name for name in given if name != "out"]
        if other:
            flag = next(p.opts[0] for p in ctx.command.params if p.name == other[0])
            raise DatamapError(f"{flag}: not with --resume, which continues the run with its own config.yaml")
        if "out" not in given:
            raise DatamapError("--resume: needs --out RUN, the run to continue")
        from datamap.stages.commands import run_result
        from datamap.training.loop import resume_config, train as run_train

        run = run_train(resume_config(given["out"]), resume=True)
        if main_process():
            emit(run_result("train", run.root, resumed=True), as_json, lambda: echo(f"run written to {run.root}"))
        return
    if "dataset" not in given:
        raise DatamapError("--dataset: required (or --resume --out RUN to continue a run)")
    if "no_checkpoint" in given:
        given["checkpoint"] = not given.pop("no_checkpoint")
    for name in ("out", "dynamics_from", "steps_like"):
        if name in given:
            given[name] = str(given[name])
    if "no_save_model" in given:
        given["save_model"] = not given.pop("no_save_model")
    for name in ("subset", "weights"):
        if name in given:
            given[name] = str(given[name].resolve())
    mixup = {name: given.pop(name) for name in MixupConfig.model_fields if name in given}
    try:
        cfg = TrainConfig(**given, mixup=mixup or None)  # errors name the flags: see config_error
    except ValidationError as exc:
        raise config_error(exc) from None

    from datamap.stages.commands import run_result
    from datamap.training.loop import train as run_train

    run = run_train(cfg)
    if main_process():  # under accelerate launch, only the main process speaks
        emit(run_result("train", run.root), as_json, lambda: echo(f"run written to {run.root}"))


@app.command()
@with_options(MetricsOptions)
def metrics(
    run: Path = typer.Argument(..., help="Run directory holding dynamics.parquet."),
    opts: MetricsOptions = None,
    as_json: bool = json_flag(),
):
    """Compute per-example metrics and regions into RUN/metrics.parquet.

    On an sft run (train --task sft) the metrics are those of the token losses per record point (mean,
    first and last token loss, confidence and variability of the geometric-mean token probability, token
    accuracy, exact share, forgetfulness) and --burn-out counts record points.

    Examples:

        datamap metrics runs/rt

        datamap metrics runs/rt --burn-out 2 --fraction 0.25
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.metrics(run, opts)
    emit(result, as_json, lambda: _print_metrics(result))
    echo(f"wrote {result.files[0]} and {result.files[1]}")


def _print_metrics(result) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from datamap.console import printable
    from datamap.views.findings import health_lines

    table, regions = result.value["table"], result.value["regions"]
    if "gold" not in table.columns:  # an sft run: regions x (count, loss, token accuracy, exact)
        t = Table(title=f"{len(table):,} examples (sft): regions by token loss")
        for col, justify in (("region", "left"), ("count", "right"), ("mean token loss", "right"),
                             ("token accuracy", "right"), ("exact", "right")):
            t.add_column(col, justify=justify)
        for region, row in regions.iterrows():
            t.add_row(str(region), f"{int(row['count']):,}", f"{row['mean_loss']:.4f}", f"{row['token_accuracy']:.4f}",
                      f"{row['exact']:.4f}")
    else:
        t = Table(title=f"{len(table):,} examples: regions x gold class")
        t.add_column("region")
        for c in regions.columns:
            t.add_column(escape(printable(c)), justify="right")  # label names shown verbatim ('[/]' is not markup)
        for region, row in regions.iterrows():
            t.add_row(str(region), *[f"{int(v):,}" for v in row])
    Console().print(t)
    for line in health_lines(result.value["findings"]):
        Console().print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
@with_options(PlotOptions)
def plot(
    run: Path = typer.Argument(..., help="Run directory holding metrics.parquet."),
    opts: PlotOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing map file."),
    as_json: bool = json_flag(),
):
    """Draw the data map: variability (x) vs confidence (y), coloured by correctness.

    The PNG gives each correctness value (correct in k of E epochs) its own colour and marker. The
    HTML map zooms (wheel, buttons) and pans (pan mode, buttons), double-click resets; it has a
    hexbin density layer, region boundaries, and a chart of each example's gold-class probability
    per epoch (from RUN/dynamics.parquet) in its tooltip.

    With `--html --xy embedding` the interactive map shows a 2-D projection (PCA) of the examples'
    embeddings instead, coloured by cluster (RUN/map_embedding.html).

    When RUN/label_issues.parquet exists (`datamap errors`), the HTML map shows each example's
    label-issue rank and flag (tooltip, pinned record), can colour by it (label_issue), filters
    to the top K or the flagged examples, and lists the top 20 issues (a click pins one).

    Examples:

        datamap plot runs/rt

        datamap plot runs/rt --html --color-by region

        datamap plot runs/rt --html --xy embedding
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.plot(run, opts, overwrite=overwrite)
    emit(result, as_json, lambda: echo(f"wrote {result.files[0]}"))


@app.command("import-dynamics")
@with_options(ImportDynamicsOptions)
def import_dynamics(
    folder: Path = typer.Argument(..., help="Folder of dynamics_epoch_{e}.jsonl files (allenai format)."),
    opts: ImportDynamicsOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in --out (its metrics, maps, selections and evaluations are removed)."),
    as_json: bool = json_flag(),
):
    """Read allenai-format training dynamics into a run directory.

    The files must hold logits: files whose every row lies in [0, 1] and sums to 1 are
    probabilities and are refused unless --probabilities converts them (log p, same softmax).

    Examples:

        datamap import-dynamics cartography_output/training_dynamics --out runs/imported

        datamap import-dynamics td/ --out runs/snli --label-names entailment,neutral,contradiction

        datamap import-dynamics probs_td/ --out runs/from_probs --probabilities
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.import_dynamics(folder, opts, overwrite=overwrite)
    emit(result, as_json, lambda: echo(f"run written to {result.data['run']}"))


@app.command("export-dynamics")
@with_options(ExportDynamicsOptions)
def export_dynamics(
    run: Path = typer.Argument(..., help="Run directory holding dynamics.parquet."),
    opts: ExportDynamicsOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a folder that already holds files."),
    as_json: bool = json_flag(),
):
    """Write RUN/dynamics.parquet as allenai-format dynamics_epoch_{e}.jsonl files.

    Examples:

        datamap export-dynamics runs/rt

        datamap export-dynamics runs/rt --out /tmp/td
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.export_dynamics(run, opts, overwrite=overwrite)
    emit(result, as_json, lambda: echo(f"wrote {len(result.files)} files to {result.files[0].parent}"))


@app.command()
@with_options(EvaluateOptions)
def evaluate(
    model_or_run: str = typer.Argument(..., help="A run directory (uses RUN/model), a model folder or a hub name."),
    opts: EvaluateOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing scores of the same set name."),
    as_json: bool = json_flag(),
):
    """Score a model on a labelled set: accuracy, macro P/R/F1, per class, confusion, ECE.

    Labels are matched to the model's classes by name. A set with a `heuristic` column (HANS)
    is scored per heuristic, gold label and subcase, neutral and contradiction collapsed to
    non-entailment.

    Examples:

        datamap evaluate runs/rt --dataset rotten_tomatoes --split test

        datamap evaluate runs/nli --dataset hans --split validation
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.evaluate(model_or_run, opts, overwrite=overwrite)
    emit(result, as_json, lambda: _print_scores(result.value))
    echo(f"wrote {result.files[0]}")


@app.command()
@with_options(EnsembleOptions)
def ensemble(
    runs: List[str] = typer.Argument(..., help="Two or more run directories or model folders."),
    opts: EnsembleOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing scores of the same set name in --out."),
    as_json: bool = json_flag(),
):
    """Evaluate the weighted mean of several models' logits like a single model.

    Examples:

        datamap ensemble runs/full runs/amb33 --weights 0.5,0.5 --dataset rotten_tomatoes --split test --out runs/ens
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.ensemble(runs, opts, overwrite=overwrite)
    emit(result, as_json, lambda: _print_scores(result.value))
    echo(f"wrote {result.files[0]}")


@app.command()
@with_options(ReportOptions)
def report(
    run: Path = typer.Argument(..., help="Run directory."),
    opts: ReportOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing report."),
    as_json: bool = json_flag(),
):
    """Write RUN/report.html: maps, region summary, likely mislabeled examples, curves, evaluations.

    Examples:

        datamap report runs/rt
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.report(run, opts, overwrite=overwrite)
    emit(result, as_json, lambda: echo(f"wrote {result.files[0]}"))


def _print_scores(scores: dict) -> None:
    keys = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "ece", "n")
    parts = [f"{k} {scores[k]:.4f}" if isinstance(scores.get(k), float) else f"{k} {scores[k]}" for k in keys if k in scores]
    echo(f"{scores.get('set', '')}: " + ", ".join(parts))
    for h, v in (scores.get("heuristics") or {}).items():
        cells = ", ".join(f"{g} {d['accuracy']:.3f}" for g, d in v.items() if d.get("accuracy") is not None)
        echo(f"  {h}: {cells}")


@app.command()
@with_options(SelectOptions)
def select(
    run: Path = typer.Argument(..., help="Run directory holding metrics.parquet (and data.parquet)."),
    opts: SelectOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing selection of the same name."),
    as_json: bool = json_flag(),
):
    """Select a subset of RUN's training set from its data map and save it under RUN/selections/.

    Each selection reports its examples per class and warns when it is more unbalanced than the
    training set (largest/smallest ratio above 1.5 times the training set's; on a balanced set,
    beyond 60/40): regions and rankings are taken over all classes together (as in
    allenai/cartography), so an ambiguous third can be mostly one class. **--stratify** applies
    every fraction within each gold class instead and keeps the class shares.

    Parts (ambiguous, easy, hard, --by ranking, random) are drawn in that order and never overlap;
    a fraction f takes floor(f x N) examples of the whole set of N. Filters (--where) and
    --drop-hard narrow what can be drawn; --data-pct thins the result at random.

    A part drawn by cluster (--clusters FILE --cluster-mode ...) comes after the rankings and
    before --random: whole clusters (largest first, topped up to exactly the budget from the next
    one), the first k clusters, the examples nearest each centroid, one from each cluster in turn,
    or a budget split in proportion to cluster sizes; --cluster-rank orders each cluster
    (e.g. ambiguous: the most variable examples of each cluster). DBSCAN noise (-1) is never
    treated as a cluster.

    Examples:

        datamap select runs/snli --out ambiguous33 --ambiguous 0.33

        datamap select runs/snli --out amb_rand --ambiguous 0.33 --random 0.10 --seed 1

        datamap select runs/snli --out top_aum --by aum --bottom 1000

        datamap select runs/snli --out amb --ambiguous 0.33 --sweep

        datamap select runs/snli --out unsure --where 'confidence<0.5' --where 'variability>=0.2' --drop-hard

        datamap select runs/snli --out half --data-pct 0.5 --stratify --csv --dataset snli

        datamap select runs/snli --out rr10 --clusters runs/snli/clusters.parquet --cluster-mode round-robin --cluster-budget 0.1

        datamap select runs/snli --out amb_per_cluster --clusters runs/snli/clusters.parquet --cluster-mode proportional --cluster-budget 0.33 --cluster-rank ambiguous --drop-hard

        datamap select runs/snli --out centres --clusters runs/snli/clusters.parquet --cluster-mode nearest-centroid --cluster-k 5

        datamap select runs/snli --out clean --drop-errors
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.select(run, opts, overwrite=overwrite)
    emit(result, as_json, lambda: _print_selections(result))


def _print_selections(result) -> None:
    from rich.console import Console

    from datamap.views.findings import health_lines

    console = Console()
    for s in result.value["saved"]:
        parts = ", ".join(f"{k} {v}" for k, v in s.result.sizes.items())
        total = max(len(s.result), 1)
        classes = ", ".join(f"{k} {v} ({100 * v / total:.0f}%)" for k, v in s.result.class_sizes.items())
        console.print(
            f"{s.name}: {len(s.result)} of {s.result.n_total} examples ({parts})"
            + (f"; per class: {classes}" if classes else "")
            + (" [UNBALANCED]" if s.balance is not None and not s.balance.ok else "")
            + f" -> {s.paths['json']}",
            markup=False, highlight=False, soft_wrap=True,
        )
    for line in health_lines(result.value["findings"]):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
@with_options(EmbedOptions)
def embed(
    run_or_model: str = typer.Argument(..., help="A run directory (embeds RUN/data.parquet with RUN/model), or a model with --dataset."),
    opts: EmbedOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
    as_json: bool = json_flag(),
):
    """Write one embedding per example (id + fixed-size vector, Parquet), in dataset order.

    One eval-mode no_grad pass with length-sorted batches (bf16 autocast on a GPU); runs under
    `accelerate launch` too (each process embeds its shard, the main process writes).

    Examples:

        datamap embed runs/snli

        datamap embed runs/snli --model minilm --pooling mean --overwrite

        datamap embed minilm --dataset snli --split test --out runs/snli_test_emb.parquet --dtype float16

        accelerate launch -m datamap embed runs/snli --pooling cls
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.embed(run_or_model, opts, overwrite=overwrite)
    if main_process():
        v = result.value
        emit(result, as_json,
             lambda: echo(f"embedded {v['n']:,} examples ({v['meta']['pooling']} pooling, {v['meta']['model']}) -> {v['path']}"))


@app.command()
@with_options(ClusterOptions)
def cluster(
    embeddings: Path = typer.Argument(..., help="Embeddings file (datamap embed), or a run directory holding embeddings.parquet (with --on trajectories: an sft run directory)."),
    opts: ClusterOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
    as_json: bool = json_flag(),
):
    """Cluster embeddings: labels, distance to the centroid and centroids, as Parquet; prints a summary.

    DBSCAN's noise keeps the label -1 (never merged into a cluster). The silhouette is computed
    on a seeded sample of at most 10,000 points (noise left out).

    Examples:

        datamap cluster runs/snli/embeddings.parquet --k 50 --normalize

        datamap cluster runs/snli --method kmeans --k 20 --seed 1 --out runs/snli/clusters_k20.parquet

        datamap cluster runs/snli --method dbscan --eps 0.3 --min-samples 10 --normalize --overwrite

        datamap cluster runs/sft --on trajectories --method kmeans --k 20 --standardize
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.cluster(embeddings, opts, overwrite=overwrite)
    emit(result, as_json, lambda: _print_clusters(result, opts.method))


def _print_clusters(res, method) -> None:
    import numpy as np

    s, result, (cpath, centroids) = res.data, res.value, res.files
    sizes = np.sort(result.sizes)[::-1]

    echo(f"{s['n']:,} vectors x {result.centroids.shape[1]} -> {s['n_clusters']} clusters ({method}) in {s['seconds']:.1f} s")
    if len(sizes):
        top = ", ".join(f"{v:,}" for v in sizes[:10]) + (", ..." if len(sizes) > 10 else "")
        echo(f"sizes: {top} (median {int(np.median(sizes)):,}, smallest {sizes[-1]:,})"
                   + (f"; noise (-1): {s['n_noise']:,}" if method == "dbscan" else ""))
    sil = "n/a (fewer than 2 clusters)" if s["silhouette"] is None else f"{s['silhouette']:.4f} on a seeded sample of {s['silhouette_sample']:,}"
    echo(f"inertia {s['inertia']:.6g}; silhouette {sil}")
    echo(f"wrote {cpath} and {centroids}")


@app.command()
@with_options(CompareOptions)
def compare(
    runs: List[Path] = typer.Argument(..., help="Run directories to compare (their eval/*.json)."),
    opts: CompareOptions = None,
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the table as JSON here; `--json -` prints it on stdout instead of the table."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing --csv / --json files."),
):
    """Show the evaluation scores (RUN/eval/*.json) of several runs side by side.

    One row per (evaluation set, score), one column per run; '-' where a run lacks the score.

    Examples:

        datamap compare runs/full runs/ambiguous33 runs/random33

        datamap compare runs/a runs/b --set validation --set hans --metric accuracy

        datamap compare runs/a runs/b --metric heuristics.lexical_overlap.non-entailment.accuracy

        datamap compare runs/a runs/b --csv compare.csv --json compare.json

        datamap compare runs/a runs/b --json -
    """
    from rich.console import Console
    from rich.table import Table

    from datamap.stages import commands

    as_json = json_out is not None and str(json_out) == "-"
    if as_json:
        json_out = None
        json_mode(True)
    result = commands.compare(runs, opts, json_out=json_out, overwrite=overwrite)
    labels, rows = result.value["labels"], result.value["rows"]

    def text():
        table = Table(title="evaluation scores")
        table.add_column("set")
        table.add_column("metric")
        for label in labels:
            table.add_column(label, justify="right")
        for row in rows:
            table.add_row(row["set"], row["metric"], *("-" if row[c] is None else f"{row[c]:.4f}" for c in labels))
        # piped or logged output: rich would squeeze the table to 80 columns and cut run names
        Console(width=None if sys.stdout.isatty() else 200).print(table)

    emit(result, as_json, text)


# ----------------------------------------------------------------------------- label errors (issue 12)
@app.command()
@with_options(NoiseOptions)
def noise(
    dataset: str = typer.Argument(..., help="What `datamap train --dataset` accepts: hub name, mirror name, file or folder."),
    opts: NoiseOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
    as_json: bool = json_flag(),
):
    """Write a copy of DATASET with a known fraction of its labels flipped (label-error benchmarks).

    The copy keeps the columns and rows, writes labels in the source's form and adds an `id` column
    with the ids `datamap train --dataset` gives the source, so runs on it have the source's ids.
    OUT_STEM.flipped.parquet lists the flipped examples: id, true_label, noisy_label (names) and
    true_label_id, noisy_label_id. Per-class flip rates are printed.

    Examples:

        datamap noise rotten_tomatoes --rate 0.1 --kind uniform --seed 0 --out data/rt_noisy10.parquet

        datamap noise trec --rate 0.2 --kind pairs --mapping 0:1,1:0,2:3,3:2,4:5,5:4 --out data/trec_pairs20.parquet

        datamap noise data/train.csv --kind matrix --matrix flips.csv --out data/train_noisy.csv
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.noise(dataset, opts, overwrite=overwrite)
    res = result.value

    def text():
        from datamap.console import printable

        for row in res.per_class.itertuples(index=False):
            rate_text = "-" if row.n == 0 else f"{row.rate:.4f}"
            echo(printable(f"{row[0]}: {row.flipped} of {row.n} flipped ({rate_text})"))
        echo(f"{res.n_flipped} of {res.n} labels flipped -> {res.out}, {res.flipped_path}")

    emit(result, as_json, text)


@app.command()
@with_options(ErrorsOptions)
def errors(
    run: Path = typer.Argument(..., help="Run directory holding dynamics.parquet and data.parquet."),
    opts: ErrorsOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing RUN/label_issues.parquet."),
    as_json: bool = json_flag(),
):
    """Rank RUN's training examples by how likely their label is wrong: RUN/label_issues.parquet.

    One row per example: id, rank (1 = most likely wrong), flag, threshold_sample, given and
    predicted label, and a score per method (higher = more suspicious). The flag is a cut: AUM
    below the 99th percentile of the threshold samples' AUM when the run was trained with
    --threshold-samples, else a negative AUM (the given label lost, on average, to another
    class); with --method cleanlab, cleanlab's find_label_issues. Threshold samples are listed
    (their original label as given label) without rank or flag.

    Examples:

        datamap errors runs/rt --top 30

        datamap errors runs/rt --method rank_mean --overwrite

        datamap errors runs/rt --method cleanlab --probs runs/rt-cv/oof_probs.parquet --overwrite

        datamap select runs/rt --out clean --drop-errors
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.errors(run, opts, overwrite=overwrite)
    v = result.value
    emit(result, as_json, lambda: _print_errors(v["issues"], v["ranked"], v["shown"], opts.percentile, opts.max_class_share))


def _print_errors(res, ranked, shown, percentile: float, max_class_share: float) -> None:
    from datamap.console import printable
    from datamap.stages.errors import describe_cut

    typer.echo(f"{int(ranked['flag'].sum())} of {len(ranked)} examples flagged ({describe_cut(res, percentile)}); "
               f"ranked by {res.method}")
    for c in res.capped:
        name = res.table['given_label'][res.table['given_label_id'] == c.label].iloc[0]
        typer.echo(printable(f"--max-class-share {max_class_share:g} bound on class {name}: "
                             f"{c.after} of its {c.n} examples flagged, not {c.before}"))
    if res.forced:
        typer.echo(printable(f"flagged despite: {res.forced} (--force-flag)"))
    if res.n_threshold:
        typer.echo(f"{res.n_threshold} threshold samples (trained with the fake class) are listed, not ranked")
    if shown is not None:
        for row in shown.itertuples(index=False):
            text = " ".join(str(row.text).split())
            text = text if len(text) <= 100 else text[:99] + "…"
            mark = "*" if row.flag else " "
            typer.echo(printable(f"{row.rank:>5}{mark} {row.given_label} -> {row.predicted_label}  {text}"))
    typer.echo(f"wrote {res.path}")


@app.command()
@with_options(RelabelOptions)
def relabel(
    run: Path = typer.Argument(..., help="Run directory holding data.parquet and label_issues.parquet (datamap errors)."),
    opts: RelabelOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    as_json: bool = json_flag(),
):
    """Write RUN's training rows with each flagged example's label replaced by the model's prediction.

    The predicted class is the one of highest epoch-averaged probability (predicted_label of
    label_issues.parquet). The column relabeled is true on the rows whose label changed, and
    original_label keeps their old label. Train on the file with datamap train --dataset FILE.

    Examples:

        datamap relabel runs/rt --out data/rt_relabeled.parquet

        datamap train --dataset data/rt_relabeled.parquet --out runs/rt-relabeled
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.relabel(run, opts, overwrite=overwrite)
    res = result.value
    emit(result, as_json, lambda: echo(f"{res.n_changed} of {res.n} labels changed ({res.n_flagged} flagged) -> {res.out}"))


@app.command()
@with_options(WeightsOptions)
def weights(
    run: Path = typer.Argument(..., help="Run directory holding data.parquet and label_issues.parquet (datamap errors)."),
    opts: WeightsOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    as_json: bool = json_flag(),
):
    """Per-example loss weights from RUN's label issues, for datamap train --weights FILE.

    The rule: a flagged example weighs --flagged-weight (default 0.5), every other example 1.
    Training then takes each batch's loss as sum(w * loss) / sum(w) over its examples.

    Examples:

        datamap weights runs/rt --out runs/rt/weights.parquet --flagged-weight 0.5

        datamap train --dataset rotten_tomatoes --weights runs/rt/weights.parquet --out runs/rt-weighted

        datamap train --dataset rotten_tomatoes --subset runs/rt/selections/clean.json --steps-like runs/rt --out runs/rt-clean
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.weights(run, opts, overwrite=overwrite)
    res = result.value
    emit(result, as_json,
         lambda: echo(f"{res.n_flagged} of {res.n} examples weigh {opts.flagged_weight:g}, the rest 1 -> {res.out}"))


@app.command()
@with_options(CrossvalOptions)
def crossval(
    config: Path = typer.Argument(..., help="Training options: a run directory (its config.yaml is used), a run's config.yaml, or a YAML file of datamap train options (field names as in config.yaml)."),
    opts: CrossvalOptions = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the runs and files of an earlier crossval in --out."),
    as_json: bool = json_flag(),
):
    """Out-of-sample probabilities for every training example, for `datamap errors --method cleanlab`.

    Splits the examples CONFIG trains on into K label-stratified folds; DIR/fold_k is an ordinary run
    trained on the other folds whose only evaluation set is fold k. DIR/oof_probs.parquet holds id,
    label, fold and probs (the held-out softmax) for every example.

    Examples:

        datamap crossval runs/rt --folds 5 --out runs/rt-cv

        datamap errors runs/rt --method cleanlab --probs runs/rt-cv/oof_probs.parquet --overwrite
    """
    from datamap.stages import commands

    json_mode(as_json)
    result = commands.crossval(config, opts, overwrite=overwrite)
    res = result.value
    emit(result, as_json,
         lambda: echo(f"{res.n} examples, {len(res.runs)} fold runs; out-of-sample accuracy {res.accuracy:.4f} -> {res.oof_path}"))


@app.command("run")
def run_experiment(
    config: Path = typer.Argument(..., help="Experiment file (YAML): data, train, cartography, selections, experiments, seeds, evaluation, ensemble."),
    overrides: Optional[List[str]] = typer.Argument(None, help="key.path=value overrides (values as YAML), e.g. train.epochs=1 experiments[0].train.lr=1e-4."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (every stage, done or to run) and stop."),
    force: List[str] = typer.Option([], "--force", help="Redo a stage: an id (seed42/cartography), a kind (train, select, evaluate...) or a glob (repeatable); what reads it is redone too."),
    jobs: int = typer.Option(1, "--jobs", help="Stages run at once (only 1 for now)."),
):
    """Run a whole experiment from one YAML file: cartography, selections, retraining, evaluation, results.

    Every problem in the file (or the overrides) is reported with its path before any work starts.
    Each stage writes an ordinary run directory under the experiment folder (`out`, default
    runs/NAME); a stage already done with the same settings is skipped, an interrupted one is
    redone, so running the command again after a kill continues where it stopped. At the end:
    OUT/results.parquet and .csv, OUT/summary.md (mean ± std over seeds), OUT/plots/ and
    OUT/experiment.html. See docs/experiments.md and examples/.

    Examples:

        datamap run examples/rotten_tomatoes_mixup.yaml --dry-run

        datamap run examples/rotten_tomatoes_mixup.yaml

        datamap run examples/sst2_cartography_subsets.yaml seeds=[42] train.epochs=1

        datamap run examples/snli_hans_subsets.yaml --force seed42/cartography/metrics
    """
    from datamap.experiment.runner import run_experiment as run_it

    import shlex

    command = shlex.join(["datamap", "run", str(config), *(overrides or [])] + [x for f in force for x in ("--force", f)])
    run_it(config, list(overrides or []), dry_run=dry_run, force=list(force), jobs=jobs,
           echo=typer.echo if dry_run else echo,  # the plan is the result of --dry-run; progress obeys --quiet
           command=command)


def _quiet_first(argv: list[str]) -> list[str]:
    """``datamap CMD ... --quiet`` as ``datamap --quiet CMD ...`` (the option belongs to the root)."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in ("--quiet", "-q")]
    rest = [a for i, a in enumerate(argv) if not (i < end and a in ("--quiet", "-q"))]
    return flags[:1] + rest


def main(argv: list[str] | None = None) -> None:
    from datamap.console import configure_logging

    configure_logging()
    argv = _quiet_first(list(sys.argv[1:] if argv is None else argv))
    try:
        app(args=argv, prog_name="datamap")
    except DatamapError as exc:
        from datamap.errors import debugging

        if debugging():
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except (OSError, RuntimeError) as exc:  # a full disk, a read-only folder...: one line naming the path
        line = os_error_line(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(1)


def os_error_line(exc: BaseException) -> str | None:
    """One line for an operating-system failure (``OSError``, or torch's ``RuntimeError`` of a failed write),
    naming the path and what is needed; None for other errors (they stay tracebacks: bugs)."""
    import errno

    if isinstance(exc, RuntimeError):
        msg = str(exc)
        if "unexpected pos" not in msg and "No space left" not in msg and "file write failed" not in msg:
            return None
        return f"writing a file failed ({msg.splitlines()[0][:200]}); the disk may be full: free space or choose another --out"
    if not isinstance(exc, OSError):
        return None
    path = exc.filename or "a file"
    reason = exc.strerror or str(exc) or type(exc).__name__
    need = {errno.ENOSPC: "free space on that disk or choose another --out",
            errno.EDQUOT: "free space within your quota or choose another --out",
            errno.EACCES: "check the permissions or choose another --out",
            errno.EROFS: "the file system is read-only: choose another --out",
            errno.EPERM: "check the permissions or choose another --out"}.get(exc.errno, "")
    code = f" ({errno.errorcode[exc.errno]})" if exc.errno in errno.errorcode else ""
    return f"{path}: {reason}{code}" + (f"; {need}" if need else "")


if __name__ == "__main__":
    main()
