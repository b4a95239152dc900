"""The results table and its summary over seeds, on a known table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from datamap.experiment.results import COLUMNS, flatten_scores, summarize, summary_markdown


def known_table() -> pd.DataFrame:
    rows = []
    for seed, a, b in ((1, 0.80, 0.60), (2, 0.84, 0.62), (3, 0.82, 0.70)):
        rows.append([seed, "amb_33", "amb", "ambiguous_33", 0.33, "validation", "accuracy", a])
        rows.append([seed, "amb_33", "amb", "ambiguous_33", 0.33, "validation", "f1_macro", b])
    rows.append([1, "full", "full", None, 1.0, "validation", "accuracy", 0.9])
    return pd.DataFrame(rows, columns=COLUMNS)


def test_summary_mean_std_n_over_seeds():
    s = summarize(known_table()).set_index(["run", "metric"])
    acc = s.loc[("amb_33", "accuracy")]
    assert math.isclose(acc["mean"], 0.82) and math.isclose(acc["std"], 0.02) and acc["n"] == 3  # ddof 1
    f1 = s.loc[("amb_33", "f1_macro")]
    assert math.isclose(f1["mean"], 0.64) and math.isclose(f1["std"], np.std([0.6, 0.62, 0.7], ddof=1))
    full = s.loc[("full", "accuracy")]
    assert full["n"] == 1 and np.isnan(full["std"]) and full["mean"] == 0.9 and full["fraction"] == 1.0
    assert list(summarize(known_table())["run"]) == ["amb_33", "amb_33", "full"]  # first-seen order


def test_summary_markdown():
    md = summary_markdown(summarize(known_table()), ["accuracy", "f1_macro"])
    assert md.splitlines() == [
        "| run | fraction | validation accuracy | validation f1_macro |",
        "| --- | ---: | ---: | ---: |",
        "| amb_33 | 0.330 | 0.8200 ± 0.0200 (n=3) | 0.6400 ± 0.0529 (n=3) |",
        "| full | 1.000 | 0.9000 (n=1) | - |",
    ]


def test_flatten_scores_keeps_numbers_and_nested_heuristics():
    scores = {"accuracy": 0.5, "n": 10, "per_class": {"a": {"f1": 1.0}}, "confusion": [[1]], "label_names": ["a"],
              "heuristics": {"lexical_overlap": {"non-entailment": {"accuracy": 0.25}}}, "ok": True}
    assert flatten_scores(scores) == {"accuracy": 0.5, "heuristics.lexical_overlap.non-entailment.accuracy": 0.25}


def test_experiment_html_escapes_every_text(tmp_path):
    from datamap.experiment.config import validate
    from datamap.experiment.results import experiment_html
    from datamap.experiment.runner import plan

    evil = "<script>window.__xss=1</script>"
    cfg = validate({"name": "x", "data": {"dataset": evil}, "seeds": [1], "evaluation": [{"name": "v"}]})
    page = experiment_html(plan(cfg, tmp_path), summary_markdown(summarize(known_table()), ["accuracy"]), [],
                           f"datamap run {evil}")
    assert evil not in page and page.count("&lt;script&gt;window.__xss=1&lt;/script&gt;") == 2
    assert "<td>0.8200 ± 0.0200 (n=3)</td>" in page


def test_runs_at_chance_are_marked_in_the_summary_and_the_page(tmp_path):
    import json
    from types import SimpleNamespace

    from datamap.experiment.results import chance_runs

    def run(name, seed, acc, support=(50, 50)):
        path = tmp_path / f"seed{seed}" / name
        (path / "eval").mkdir(parents=True)
        per = {c: {"support": s} for c, s in zip("ab", support)}
        (path / "eval" / "validation.json").write_text(json.dumps({"accuracy": acc, "per_class": per}))
        return SimpleNamespace(name=name, seed=seed, path=path)

    runs = [run("full", 1, 0.81), run("amb", 1, 0.50), run("amb", 2, 0.78), run("skewed", 1, 0.80, (80, 20))]
    chance = chance_runs(runs, ["validation"])
    # 0.80 on an 80/20 set is the majority share: at chance too; 0.78 on 50/50 is not
    assert chance == {"amb": ["seed 1 on validation"], "skewed": ["seed 1 on validation"]}
    md = summary_markdown(summarize(known_table()), ["accuracy"], {"full": ["seed 1 on validation"]})
    assert "| full ⚠ at chance | 1.000 |" in md and "| amb_33 | 0.330 |" in md
    assert "⚠ At or near chance" in md and "full (seed 1 on validation)" in md
    assert "⚠" not in summary_markdown(summarize(known_table()), ["accuracy"])


def test_full_data_runs_each_get_their_own_colour_and_std_band():
    """Several full-data arms (noisy, oracle, relabel, down-weight) were one indistinguishable dashed colour."""
    from matplotlib.colors import to_rgba

    from datamap.experiment.results import fractions_figure

    rows = []
    for seed, vals in ((1, (0.81, 0.83, 0.80)), (2, (0.80, 0.84, 0.81)), (3, (0.82, 0.83, 0.82))):
        for name, v in zip(("noisy", "oracle", "relabel"), vals):
            rows.append([seed, name, name, None, 1.0, "test", "accuracy", v])
        rows.append([seed, "drop", "drop", "drop", 0.8, "test", "accuracy", vals[0] - 0.01])
    summary = summarize(pd.DataFrame(rows, columns=COLUMNS))
    ax = fractions_figure(summary, "test", "accuracy").axes[0]
    dashed = {line.get_label(): to_rgba(line.get_color()) for line in ax.get_lines() if line.get_linestyle() == "--"}
    assert set(dashed) == {"noisy (all data)", "oracle (all data)", "relabel (all data)"}
    assert len(set(dashed.values())) == 3
    bands = sorted((round(p.get_y(), 6), round(p.get_y() + p.get_height(), 6)) for p in ax.patches
                   if getattr(p, "get_height", None) and p.get_width() > 0.5)  # axhspan: full-width rectangles
    oracle = summary[summary["run"] == "oracle"].iloc[0]
    assert (round(oracle["mean"] - oracle["std"], 6), round(oracle["mean"] + oracle["std"], 6)) in bands
