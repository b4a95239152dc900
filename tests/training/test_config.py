"""The training config: every bad value or combination of `datamap train` stops with one line naming the flag,
before any file is read or written."""

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from datamap.cli import app, main
from datamap.training.config import MixupConfig, Pairing, RecordMode, TrainConfig, config_error, field_path

RANGES = [
    (["--epochs", "0"], "--epochs: must be >= 1, got 0"),
    (["--batch-size", "0"], "--batch-size: must be >= 1, got 0"),
    (["--eval-batch-size", "0"], "--eval-batch-size: must be >= 1, got 0"),
    (["--lr", "0"], "--lr: must be > 0, got 0.0"),
    (["--lr", "-1e-5"], "--lr: must be > 0, got -1e-05"),
    (["--lr", "inf"], "--lr: must be a finite number, got inf"),
    (["--lr", "nan"], "--lr: must be a finite number, got nan"),
    (["--weight-decay", "-0.01"], "--weight-decay: must be >= 0, got -0.01"),
    (["--weight-decay", "inf"], "--weight-decay: must be a finite number, got inf"),
    (["--warmup-ratio", "-0.1"], "--warmup-ratio: must be >= 0, got -0.1"),
    (["--warmup-ratio", "1.5"], "--warmup-ratio: must be <= 1, got 1.5"),
    (["--max-grad-norm", "-1"], "--max-grad-norm: must be >= 0, got -1.0"),
    (["--max-grad-norm", "inf"], "--max-grad-norm: must be a finite number, got inf"),
    (["--max-length", "0"], "--max-length: must be >= 1, got 0"),
    (["--limit", "0"], "--limit: must be >= 1, got 0"),
    (["--limit", "10", "--limit-seed", "-1"], "--limit-seed: must be >= 0, got -1"),
    (["--seed", "-1"], "--seed: must be >= 0, got -1"),
    (["--loss", "mse"], "--loss: 'mse': expected 'ce' or 'focal:GAMMA,ALPHA'"),
    (["--loss", "focal:-1"], "--loss: 'focal:-1': GAMMA must be >= 0 and ALPHA > 0"),
    (["--mixup", "pooled", "--mixup-lambda", "beta:0"], "--mixup-lambda: spec 'beta:0': ALPHA must be a finite number > 0, got 0.0"),
    (["--mixup", "pooled", "--mixup-lambda", "gauss:1"],
     "--mixup-lambda: spec 'gauss:1': kind must be one of beta, beta-folded, normal, fixed"),
    (["--mixup", "pooled", "--mixup-ratio", "0"], "--mixup-ratio: must be > 0, got 0.0"),
    (["--mixup", "pooled", "--mixup-ratio", "inf"], "--mixup-ratio: must be a finite number, got inf"),
    (["--mixup", "pooled", "--mixup-start-epoch", "-1"], "--mixup-start-epoch: must be >= 0, got -1"),
    (["--mixup", "pooled", "--epochs", "2", "--mixup-start-epoch", "2"], "--mixup-start-epoch: must be < --epochs (2), got 2"),
]

NEEDS_RUN = "needs --dynamics-from RUN (an earlier run with metrics)"
UNUSED = "--dynamics-from: given but not used: it serves --drop-hard and --mixup-pairing td-entropy or easy-ambiguous"
COMBINATIONS = [
    (["--mixup-pairing", "random"], "--mixup-pairing: given without --mixup"),
    (["--mixup-lambda", "beta:1"], "--mixup-lambda: given without --mixup"),
    (["--mixup-lambda-per", "batch"], "--mixup-lambda-per: given without --mixup"),
    (["--mixup-mode", "mixed-only"], "--mixup-mode: given without --mixup"),
    (["--mixup-start-epoch", "1"], "--mixup-start-epoch: given without --mixup"),
    (["--mixup-ratio", "2"], "--mixup-ratio: given without --mixup"),
    (["--export-jsonl", "--record", "none"], "--export-jsonl: nothing is recorded with --record none"),
    (["--drop-hard"], f"--drop-hard: {NEEDS_RUN}"),
    (["--mixup", "hidden", "--drop-hard"], f"--drop-hard: {NEEDS_RUN}"),
    (["--mixup", "pooled", "--mixup-pairing", "td-entropy"], f"--mixup-pairing: td-entropy {NEEDS_RUN}"),
    (["--mixup", "embeddings", "--mixup-pairing", "easy-ambiguous"], f"--mixup-pairing: easy-ambiguous {NEEDS_RUN}"),
    (["--dynamics-from", "{earlier}"], UNUSED),
    (["--dynamics-from", "{earlier}", "--mixup", "pooled", "--mixup-pairing", "random"], UNUSED),
    (["--limit-mode", "random"], "--limit-mode: given without --limit"),
    (["--limit-seed", "3"], "--limit-seed: given without --limit"),
]


@pytest.mark.parametrize("args, message", RANGES + COMBINATIONS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_bad_option_is_one_line_naming_the_flag_and_nothing_is_written(tmp_path, tiny_model_dir, sentiment_csv, capsys,
                                                                        args, message):
    # a real dataset and model: an option that slipped through would train and write the run
    out = tmp_path / "run"
    args = [a.format(earlier=tmp_path / "earlier") for a in args]
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", str(sentiment_csv), "--model", str(tiny_model_dir), "--out", str(out),
              "--eval-split", "none", "--no-save-model", *args])
    assert exc.value.code == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not out.exists()


def test_valid_combinations_pass(tmp_path):
    """The checks reject only what they should: options that go together build a config."""
    earlier = str(tmp_path / "earlier")
    TrainConfig(dataset="d", limit=5, limit_mode="random", limit_seed=1)
    TrainConfig(dataset="d", limit_mode="stratified", limit_seed=0)  # the defaults, as a saved config.yaml has them
    TrainConfig(dataset="d", export_jsonl=True, record="epoch_end")
    TrainConfig(dataset="d", drop_hard=True, dynamics_from=earlier)
    TrainConfig(dataset="d", dynamics_from=earlier, drop_hard=True, mixup={"site": "pooled", "pairing": "random"})
    TrainConfig(dataset="d", dynamics_from=earlier, mixup={"site": "hidden", "pairing": "easy-ambiguous"})
    TrainConfig(dataset="d", epochs=2, warmup_ratio=1, max_grad_norm=0, weight_decay=0,
                mixup={"site": "embeddings", "start_epoch": 1})


def test_one_default_each():
    cfg = TrainConfig(dataset="d", mixup={"site": "pooled"})
    assert cfg.mixup == MixupConfig(site="pooled", pairing="reverse", lam="beta:0.4", lam_per="example",
                                    mode="mixed+original", start_epoch=0, ratio=1.0)
    assert cfg.record == RecordMode.INFLIGHT and cfg.mixup.pairing is Pairing.REVERSE
    dumped = cfg.model_dump(mode="json")  # what config.yaml holds: plain values
    assert dumped["record"] == "inflight" and dumped["mixup"]["pairing"] == "reverse"
    assert TrainConfig.model_validate(yaml.safe_load(yaml.safe_dump(dumped))) == cfg  # a saved config loads again


def test_errors_can_name_the_config_path_instead_of_the_flag():
    with pytest.raises(ValidationError) as exc:
        TrainConfig(dataset="d", epochs=0, mixup={"pairing": "random"}, unknown=1)
    assert str(config_error(exc.value, naming=field_path)) == (
        "epochs: must be >= 1, got 0; mixup.pairing: given without mixup.site; unknown: is not an option")
    assert str(config_error(exc.value)) == (
        "--epochs: must be >= 1, got 0; --mixup-pairing: given without --mixup; --unknown: is not an option")


def test_invalid_choice_is_refused_by_the_command_line(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", "--dataset", "d", "--out", str(out), "--record", "sometimes"])
    assert r.exit_code == 2 and "--record" in r.output and not out.exists()


def test_help_lists_the_choices():
    r = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300"})
    assert r.exit_code == 0
    lines = r.output.splitlines()
    for flag, choice in (("--record", RecordMode), ("--mixup-pairing", Pairing)):
        line = next(line for line in lines if line.lstrip("│ ").startswith(f"{flag} "))
        assert "|".join(choice.values()) in line
    assert "[default: inflight]" in r.output and "[default: reverse]" in r.output  # the config's defaults
