"""datamap run end to end on the tiny model: the plan of a dry run, the smallest example, results,
resume after a killed run (compared with an uninterrupted one), what a change redoes, the report in a browser."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "views"))
from conftest import cli_env, make_mirror  # noqa: E402

from datamap.training.config import TrainConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "rotten_tomatoes_mixup.yaml"
RUNS = ["cartography", "amb_33", "amb_50", "amb_mixup_33", "amb_mixup_50", "rand_33", "rand_50", "ens"]


def overrides(model: Path, out: Path) -> list[str]:
    """The smallest example on the tiny model and an 80-row toy mirror, one seed; plus clusters, a
    cluster selection, an ensemble and td-entropy mixup pairing driven by the seed's cartography run
    (given as overrides, so the example stays as it is)."""
    return ["data.dataset=toy", "data.limit=80", f"train.model={model}", "train.lr=0.001", "seeds=[1]",
            f"out={out}", "cartography.clusters={k: 3}", "selections.spread={cluster: {mode: round-robin, budget: 0.25}}",
            "ensemble=[{name: ens, members: [cartography, amb_33]}]",
            "experiments[1].train={mixup: {site: pooled, pairing: td-entropy}, dynamics_from: cartography}"]


def datamap_run(args: list[str], mirror: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datamap", "run", str(EXAMPLE), *args], env=cli_env(DATAMAP_DATA_DIR=mirror),
                          capture_output=True, text=True, cwd=REPO, **kw)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    return make_mirror(tmp_path_factory.mktemp("exp-data"), train=80, validation=30, test=30)


@pytest.fixture(scope="module")
def finished(tiny_model_dir, mirror, tmp_path_factory) -> tuple[Path, list[str], float]:
    out = tmp_path_factory.mktemp("exp") / "uninterrupted"
    args = overrides(tiny_model_dir, out)
    t0 = time.perf_counter()
    proc = datamap_run(args, mirror)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, args, seconds


def plan_rows(proc: subprocess.CompletedProcess) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in proc.stdout.splitlines()[1:-1]:
        sid, kind, status = line.split(None, 2)
        rows[sid] = (kind, status)
    return rows


def test_dry_run_prints_the_plan_and_writes_nothing(tiny_model_dir, mirror, tmp_path):
    out = tmp_path / "exp"
    proc = datamap_run(overrides(tiny_model_dir, out) + ["--dry-run"], mirror)
    assert proc.returncode == 0, proc.stderr
    rows = plan_rows(proc)
    trains = ["seed1/" + r for r in RUNS[1:-1]]
    expected = (["evalsets/validation", "evalsets/test", "seed1/cartography", "seed1/cartography/metrics",
                 "seed1/cartography/clusters", "seed1/cartography/eval/validation", "seed1/cartography/eval/test"]
                + [f"seed1/select/{s}" for s in ("ambiguous_33", "ambiguous_50", "spread", "random_33", "random_50")]
                + [x for t in trains for x in (t, f"{t}/eval/validation", f"{t}/eval/test")]
                + ["seed1/ens/eval/validation", "seed1/ens/eval/test"])
    assert list(rows) == expected
    assert [rows[t][0] for t in trains] == ["train"] * 6 and rows["seed1/cartography"] == ("cartography", "run")
    assert rows["seed1/ens/eval/test"][0] == "ensemble" and rows["seed1/cartography/clusters"][0] == "clusters"
    assert rows["seed1/select/random_33"] == ("select", "run (after an earlier stage)")
    assert proc.stdout.splitlines()[-1] == f"{len(expected)} stages: 0 done, {len(expected)} to run"
    assert not out.exists()


def test_bad_override_stops_before_any_work(tiny_model_dir, mirror, tmp_path):
    proc = datamap_run(overrides(tiny_model_dir, tmp_path / "exp") + ["experiments[2].selection=ambigous"], mirror)
    assert proc.returncode == 2
    assert "experiments[2].selection: no selection named 'ambigous' (did you mean 'ambiguous'?)" in proc.stderr
    assert not (tmp_path / "exp").exists()


@pytest.mark.slow
def test_smallest_example_end_to_end(finished):
    out, _, seconds = finished
    assert seconds < 300
    results = pd.read_parquet(out / "results.parquet")
    assert list(results.columns) == ["seed", "run", "experiment", "selection", "fraction", "eval_set", "metric", "value"]
    assert list(dict.fromkeys(results["run"])) == RUNS
    assert set(results["eval_set"]) == {"validation", "test"}
    assert pd.read_csv(out / "results.csv").shape == results.shape
    # one row per run x set x metric, and the values are those of RUN/eval/SET.json
    for (run, s), rows in results.groupby(["run", "eval_set"]):
        scores = json.loads((out / "seed1" / run / "eval" / f"{s}.json").read_text())
        got = dict(zip(rows["metric"], rows["value"]))
        assert got["accuracy"] == scores["accuracy"] and got["f1_macro"] == scores["f1_macro"]
        assert rows["metric"].is_unique
    # fractions: floor(f * 80) of the cartography run's 80 rows; random baselines of the same sizes
    frac = results.drop_duplicates("run").set_index("run")["fraction"]
    assert frac["cartography"] == frac["ens"] == 1.0 and frac["amb_33"] == 26 / 80 and frac["amb_50"] == 40 / 80
    assert frac["rand_33"] == frac["amb_33"] and frac["amb_mixup_50"] == frac["amb_50"]
    sel = json.loads((out / "seed1/cartography/selections/random_33.json").read_text())
    amb = json.loads((out / "seed1/cartography/selections/ambiguous_33.json").read_text())
    assert len(sel["ids"]) == len(amb["ids"]) == 26 and set(sel["ids"]) != set(amb["ids"])
    # every stage is an ordinary run directory: its config loads, it trained on the selection
    cfg = TrainConfig.model_validate(yaml.safe_load((out / "seed1/amb_mixup_33/config.yaml").read_text()))
    assert cfg.mixup is not None and cfg.mixup.site == "pooled" and cfg.seed == 1 and cfg.limit is None
    assert cfg.mixup.pairing == "td-entropy" and cfg.dynamics_from == str(out / "seed1" / "cartography")
    assert len(pd.read_parquet(out / "seed1/amb_mixup_33/data.parquet")) == 26
    assert len(pd.read_parquet(out / "seed1/cartography/data.parquet")) == 80
    for name in ("map.png", "map.html", "metrics.parquet", "embeddings.parquet", "clusters.parquet"):
        assert (out / "seed1/cartography" / name).exists()
    spread = json.loads((out / "seed1/cartography/selections/spread.json").read_text())
    assert len(spread["ids"]) == 20 and spread["recipe"]["cluster"]["mode"] == "round-robin"
    ens = json.loads((out / "seed1/ens/ensemble.json").read_text())
    assert ens["members"] == [str(out / "seed1" / m) for m in ("cartography", "amb_33")] and ens["weights"] == [0.5, 0.5]
    resolved = yaml.safe_load((out / "experiment.yaml").read_text())
    assert resolved["seeds"] == [1] and resolved["train"]["lr"] == 0.001  # overrides saved
    summary = (out / "summary.md").read_text()
    table = [line for line in summary.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(RUNS) and any(line.startswith("| amb_33") and "| 0.325 |" in line for line in table)
    # the tiny model learns nothing in 2 epochs on 80 rows: the runs at chance are marked, and the note says so
    from datamap.experiment.results import chance_runs

    marked = [line.split("|")[1].split(" ⚠")[0].strip() for line in table[2:] if "⚠ at chance" in line]
    from types import SimpleNamespace

    chance = chance_runs([SimpleNamespace(name=r, seed=1, path=out / "seed1" / r) for r in RUNS], ["validation", "test"])
    assert marked == [r for r in RUNS if r in chance]
    assert ("⚠ At or near chance" in summary) == bool(chance)
    for name in ("fraction_validation_accuracy.png", "fraction_test_f1_macro.png", "epochs.png", "map.png"):
        assert (out / "plots" / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_second_run_skips_everything_and_changes_redo_what_depends_on_them(finished, mirror):
    out, args, _ = finished
    before = pd.read_parquet(out / "results.parquet")
    proc = datamap_run(args, mirror)
    assert proc.returncode == 0, proc.stderr
    assert "0 stages run, 32 already done" in proc.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), before)

    rows = plan_rows(datamap_run(args + ["cartography.metrics.fraction=0.25", "--dry-run"], mirror))
    assert rows["seed1/cartography"][1] == "done" and rows["seed1/cartography/eval/test"][1] == "done"
    assert rows["seed1/cartography/metrics"][1] == "redo (changed)"
    assert rows["seed1/select/ambiguous_33"][1] == rows["seed1/amb_33/eval/test"][1] == "run (after an earlier stage)"

    rows = plan_rows(datamap_run(args + ["--force", "seed1/amb_33", "--dry-run"], mirror))
    assert rows["seed1/amb_33"][1] == "redo (forced)"
    assert rows["seed1/amb_33/eval/validation"][1] == "run (after an earlier stage)"
    assert {sid for sid, (_, status) in rows.items() if status != "done"} == {
        "seed1/amb_33", "seed1/amb_33/eval/validation", "seed1/amb_33/eval/test",
        "seed1/ens/eval/validation", "seed1/ens/eval/test"}  # the ensemble reads amb_33

    rows = plan_rows(datamap_run(args + ["experiments[1].train.lr=0.002", "--dry-run"], mirror))
    assert {sid for sid, (_, status) in rows.items() if status != "done"} == {
        f"seed1/{r}{x}" for r in ("amb_mixup_33", "amb_mixup_50") for x in ("", "/eval/validation", "/eval/test")}


def kill_when(args: list[str], mirror: Path, ready) -> int:
    """Start `datamap run`, SIGKILL it as soon as ``ready()`` is true; returns its exit status."""
    proc = subprocess.Popen([sys.executable, "-m", "datamap", "run", str(EXAMPLE), *args], cwd=REPO,
                            env=cli_env(DATAMAP_DATA_DIR=mirror), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def complete(folder: Path, sid: str) -> bool:
    path = folder / "stages.json"
    return path.exists() and json.loads(path.read_text()).get(sid, {}).get("status") == "complete"


@pytest.mark.slow
def test_killed_run_resumed_gives_the_uninterrupted_results(finished, mirror, tmp_path):
    ref, args, _ = finished
    out = tmp_path / "killed"
    args = [a for a in args if not a.startswith("out=")] + [f"out={out}"]
    # 1. killed as soon as a stage has completed (the next one may have begun)
    assert kill_when(args, mirror, lambda: complete(out / "seed1" / "amb_50", "seed1/amb_50")) == -signal.SIGKILL
    rows = plan_rows(datamap_run(args + ["--dry-run"], mirror))
    assert rows["seed1/amb_50"][1] == "done" and rows["seed1/rand_50"][1] != "done"
    # 2. killed again in the middle of a training (its run folder holds a partial run)
    partial = out / "seed1" / "amb_mixup_50" / "data.parquet"
    assert kill_when(args, mirror, partial.exists) == -signal.SIGKILL
    assert partial.exists() and not (out / "results.parquet").exists()
    resumed = datamap_run(args, mirror)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "already done" in resumed.stdout and " 0 already done" not in resumed.stdout
    a, b = pd.read_parquet(ref / "results.parquet"), pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.slow
def test_experiment_report_in_browser(finished):
    from views_helpers import launch_browser

    out = finished[0]
    with launch_browser() as browser:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((out / "experiment.html").as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("document.querySelectorAll('#summary tbody tr').length") == len(RUNS)
        assert page.evaluate("document.images.length") == 6
        assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        assert "amb_mixup_33" in page.inner_text("#summary") and errors == []


def test_jobs_above_one_is_refused(tiny_model_dir, mirror, tmp_path):
    proc = datamap_run(overrides(tiny_model_dir, tmp_path / "exp") + ["--jobs", "2"], mirror)
    assert proc.returncode == 2 and "--jobs 2: only 1 is supported for now" in proc.stderr
