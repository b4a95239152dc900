"""datamap errors on hand-made runs whose mislabeled ids are known."""

import json

import numpy as np
import pandas as pd
import pytest

from typer.testing import CliRunner

from datamap.cli import app, main
from datamap.core.label_errors import auroc
from datamap.errors import DatamapError
from datamap.io.store import Dynamics, write_dynamics
from datamap.stages.errors import find_errors

N, C, E = 60, 3, 4
FLIPPED = {f"x{i}" for i in (3, 11, 17, 26, 30, 41, 52, 58)}


def make_run(root, threshold=False, seed=0):
    """Clean examples: the given label's margin grows 1..E (AUM 2.5); flipped ones: the true class wins by as
    much (AUM -2.5). With ``threshold``: a 4th (fake) class, 12 threshold samples of AUM -12..-1, and two
    clean examples of AUM -1.2 and -1.05 (either side of the cut, -1.11)."""
    rng = np.random.default_rng(seed)
    ids = [f"x{i}" for i in range(N)]
    true = np.arange(N) % C
    given = true.copy()
    flipped = np.array([i in FLIPPED for i in ids])
    given[flipped] = (true[flipped] + 1) % C
    k = C + 1 if threshold else C
    logits = rng.uniform(-0.2, 0.2, size=(N, E, k))
    ramp = np.arange(1, E + 1)
    for i in range(N):
        winner = true[i] if flipped[i] else given[i]
        logits[i, :, winner] += ramp
    gold = given.copy()
    names = ["a", "b", "c"]
    if threshold:
        extra_ids = [f"t{j}" for j in range(12)]
        t_logits = np.zeros((12, E, k))
        t_logits[:, :, C] = np.arange(-12, 0)[:, None]  # fake-class logit below the others (0): AUM -12..-1
        ids += extra_ids
        logits = np.concatenate([logits, t_logits])
        orig = np.arange(12) % C
        true, given = np.r_[true, orig], np.r_[given, orig]
        gold = np.r_[gold, np.full(12, C)]
        for i, margin in ((0, -1.2), (1, -1.05)):  # x0, x1: clean but barely learned
            logits[i] = -5.0
            logits[i, :, C] = 0.0  # the fake class is the largest other logit (and the argmax)
            logits[i, :, given[i]] = margin
        names = names + ["[threshold]"]
        pd.DataFrame({"id": extra_ids, "label": orig, "label_name": np.array(names)[orig]}).to_parquet(
            root / "threshold_samples.parquet")
    write_dynamics(root / "dynamics.parquet", Dynamics(np.array(ids, dtype=object), logits.astype(np.float32),
                                                      gold.astype(np.int64), np.arange(E)))
    pd.DataFrame({"id": ids, "text": [f"text of {i}" for i in ids], "label": gold,
                  "label_name": np.array(names)[gold]}).to_parquet(root / "data.parquet")
    (root / "labels.json").write_text(json.dumps({"names": names}))
    return root, np.array([i in FLIPPED for i in ids]), true


def test_every_method_puts_the_flipped_ids_first(tmp_path):
    run, flipped, true = make_run(tmp_path)
    res = find_errors(run)
    table = pd.read_parquet(run / "label_issues.parquet")
    assert list(table["id"]) == list(res.table["id"]) and (table["rank"] == np.arange(1, N + 1)).all()
    assert set(table["id"][:len(FLIPPED)]) == FLIPPED  # ranked first
    assert set(table["id"][table["flag"]]) == FLIPPED and res.cut == "count" and res.estimated == len(FLIPPED)
    by_id = table.set_index("id")
    ids = [f"x{i}" for i in range(N)]
    for method in ("confidence", "aum", "el2n", "forgetfulness", "rank_mean", "class_confidence"):
        assert auroc(by_id.loc[ids, f"score_{method}"].to_numpy(), flipped) == 1.0, method
    conf = 1 - table["score_confidence"]  # class_confidence divides by the mean over the given label's examples
    mean = conf.groupby(table["given_label_id"]).transform("mean")
    np.testing.assert_allclose(table["score_class_confidence"], 1 - conf / mean, rtol=1e-12)
    ranked = find_errors(run, method="class_confidence", overwrite=True).table
    assert set(ranked["id"][:len(FLIPPED)]) == FLIPPED and ranked["rank"].tolist() == list(range(1, N + 1))
    # predicted = the class the model preferred (the true one for flipped examples), given = the noisy label
    assert (by_id.loc[ids, "predicted_label_id"].to_numpy() == true).all()
    assert (by_id.loc[list(FLIPPED), "given_label_id"] != by_id.loc[list(FLIPPED), "predicted_label_id"]).all()
    with pytest.raises(DatamapError, match="exists"):
        find_errors(run)
    res = find_errors(run, method="el2n", overwrite=True)
    assert set(res.table["id"][:len(FLIPPED)]) == FLIPPED


def test_threshold_samples_set_the_cut_and_are_listed_not_ranked(tmp_path):
    run, flipped, true = make_run(tmp_path, threshold=True)
    res = find_errors(run)
    assert res.cut == "threshold_samples" and res.cut_value == pytest.approx(-1.11)  # p99 of -12..-1
    t = res.table.set_index("id")
    assert set(t.index[t["flag"]]) == FLIPPED | {"x0"}  # x0 (AUM -1.2) is below the cut, x1 (-1.05) is not
    thr = t[t["threshold_sample"]]
    assert len(thr) == 12 and thr["rank"].isna().all() and not thr["flag"].any()
    assert (thr.loc[[f"t{j}" for j in range(12)], "given_label"].tolist() == [["a", "b", "c"][j % 3] for j in range(12)])
    assert sorted(t["rank"].dropna().astype(int)) == list(range(1, N + 1))
    assert list(res.table["id"][-12:]) == [f"t{j}" for j in range(12)]  # listed after the ranked examples
    assert (t.loc[["x0", "x1"], "predicted_label_id"].to_numpy() == true[:2]).all()  # the best real class, not the fake


def test_cli_prints_the_top_with_texts(tmp_path):
    run, _, _ = make_run(tmp_path)
    res = CliRunner().invoke(app, ["errors", str(run), "--top", "3", "--cut", "aum0"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert f"{len(FLIPPED)} of {N} examples flagged (AUM < 0)" in out
    lines = [l for l in out.splitlines() if "text of" in l]
    assert len(lines) == 3 and all(l.split("text of ")[1].strip() in FLIPPED for l in lines)


def test_cleanlab_in_sample_and_out_of_sample(tmp_path):
    pytest.importorskip("cleanlab")
    run, flipped, true = make_run(tmp_path)
    res = find_errors(run, method="cleanlab")
    assert res.cut == "cleanlab" and set(res.table["id"][res.table["flag"]]) == FLIPPED
    ids = [f"x{i}" for i in range(N)]
    probs = np.full((N, C), 0.05)
    probs[np.arange(N), true] = 0.9
    probs[5] = [0.96, 0.02, 0.02]  # x5 (labelled c) looks like an a out of sample, not in sample
    oof = tmp_path / "oof_probs.parquet"
    pd.DataFrame({"id": ids[::-1], "probs": list(probs[::-1])}).to_parquet(oof)  # order does not matter
    res = find_errors(run, method="cleanlab", probs=oof, overwrite=True)
    assert set(res.table["id"][res.table["flag"]]) == FLIPPED | {"x5"}
    assert set(res.table["id"][:len(FLIPPED) + 1]) == FLIPPED | {"x5"}
    pd.DataFrame({"id": ids[1:], "probs": list(probs[1:])}).to_parquet(oof)
    with pytest.raises(DatamapError, match="no probabilities for id 'x0'"):
        find_errors(run, method="cleanlab", probs=oof, overwrite=True)


def test_select_drop_errors_leaves_out_the_flagged(tmp_path):
    from datamap.core.selection import Recipe
    from datamap.stages.select import select_run

    run, _, _ = make_run(tmp_path)
    with pytest.raises(DatamapError, match="run `datamap errors"):
        select_run(run, "clean", Recipe(), drop_errors=True)
    find_errors(run)
    saved = select_run(run, "clean", Recipe(), drop_errors=True)
    ids = json.loads((run / "selections" / "clean.json").read_text())["ids"]
    assert set(ids) == {f"x{i}" for i in range(N)} - FLIPPED and len(saved[0].result) == N - len(FLIPPED)
    sub = pd.read_parquet(run / "selections" / "clean.parquet")  # the rows to retrain on (train --subset takes the JSON)
    assert set(sub["id"]) == set(ids)


def test_select_drop_errors_refuses_an_empty_or_single_class_result(tmp_path, capsys):
    from datamap.core.selection import Recipe
    from datamap.stages.select import select_run

    run, _, _ = make_run(tmp_path)
    find_errors(run)
    issues = pd.read_parquet(run / "label_issues.parquet")
    issues.assign(flag=True).to_parquet(run / "label_issues.parquet")  # every example flagged
    with pytest.raises(SystemExit) as exc:
        main(["select", str(run), "--out", "clean", "--drop-errors"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "would be empty (0 of 60" in err
    issues.assign(flag=issues["given_label"] != "c").to_parquet(run / "label_issues.parquet")  # only class c left
    with pytest.raises(DatamapError, match="would hold a single class \\('c', 18 of 60"):
        select_run(run, "clean", Recipe(), drop_errors=True)
    assert not (run / "selections").exists() or not any((run / "selections").iterdir())  # nothing half-written
    issues.assign(flag=issues["given_label"] == "c").to_parquet(run / "label_issues.parquet")  # two classes left: fine
    assert len(select_run(run, "clean", Recipe(), drop_errors=True)[0].result) == 42


def test_report_lists_the_ranked_issues_with_texts(tmp_path):
    from datamap.stages.measure import measure_run
    from datamap.views.report import write_report

    run, _, _ = make_run(tmp_path)
    measure_run(run)
    import re

    def listed(page):  # the ids of the one "most likely mislabeled" table, in order
        assert page.count("id='mislabeled'") == 1
        section = page[page.index("id='mislabeled'"):]
        section = section[:section.index("</table>")]
        return section, re.findall(r"<td>(x\d+)</td>", section)

    before, before_ids = listed(write_report(run).read_text())
    assert "(datamap errors" not in before and len(before_ids) == 20
    find_errors(run)
    page = write_report(run, overwrite=True).read_text()
    section, ids = listed(page)
    assert "(datamap errors, aum)" in section
    assert ids == before_ids  # one ranking: the report's own list is errors' default ranking
    assert f"{len(FLIPPED)} of {N} examples flagged" in section
    shown = [x for x in (f"text of x{i}<" for i in range(N)) if x in section]
    assert len(shown) == 20 and {f"text of {i}<" for i in FLIPPED} <= set(shown)


def test_label_issue_column_joins_without_drop_errors(tmp_path):
    """Whenever label_issues.parquet exists, `where` filters can use its flag (not only --drop-errors)."""
    from datamap.core.selection import Recipe
    from datamap.stages.measure import measure_run
    from datamap.stages.select import select_run

    run, _, _ = make_run(tmp_path)
    measure_run(run)
    find_errors(run)
    select_run(run, "flagged", Recipe(where=("label_issue==1",)))
    assert set(json.loads((run / "selections" / "flagged.json").read_text())["ids"]) == FLIPPED
    select_run(run, "kept", Recipe(where=("label_issue==0",)))
    assert set(json.loads((run / "selections" / "kept.json").read_text())["ids"]) == {f"x{i}" for i in range(N)} - FLIPPED


def test_cuts_flag_exact_counts_and_the_class_cap_binds_and_says_so(tmp_path):
    run, _, _ = make_run(tmp_path)
    for cut, n in (("top:5", 5), ("fraction:0.25", 15), ("aum0", len(FLIPPED)), ("count", len(FLIPPED))):
        res = find_errors(run, cut=cut, overwrite=True)
        assert int(res.table["flag"].sum()) == n, cut
        assert res.table["flag"][:n].all() and res.capped == []  # the top of the ranking
    # the flipped examples given a: x11, x17, x26, x41 (a has 22 examples: a 0.1 share keeps 2), b: x3, x30
    # (20: keeps 2), c: x52, x58 (18: keeps 1)
    out = CliRunner().invoke(app, ["errors", str(run), "--cut", "top:8", "--max-class-share", "0.1", "--overwrite"])
    assert out.exit_code == 0, out.output
    assert "5 of 60 examples flagged (top:8)" in out.output
    assert "--max-class-share 0.1 bound on class a: 2 of its 22 examples flagged, not 4" in out.output
    assert "--max-class-share 0.1 bound on class c: 1 of its 18 examples flagged, not 2" in out.output
    assert "bound on class b" not in out.output
    table = pd.read_parquet(run / "label_issues.parquet")
    assert table.groupby("given_label")["flag"].sum().to_dict() == {"a": 2, "b": 2, "c": 1}
    with pytest.raises(DatamapError, match="--cut: must be one of auto"):
        find_errors(run, cut="best", overwrite=True)


def test_a_chance_level_run_refuses_to_flag_unless_forced(tmp_path, capsys):
    rng = np.random.default_rng(0)
    ids = [f"x{i}" for i in range(200)]
    gold = np.arange(200) % 2
    logits = rng.normal(0, 0.1, size=(200, 3, 2))  # a model that learnt nothing
    write_dynamics(tmp_path / "dynamics.parquet", Dynamics(np.array(ids, dtype=object), logits.astype(np.float32),
                                                          gold.astype(np.int64), np.arange(3)))
    pd.DataFrame({"id": ids, "text": ids, "label": gold, "label_name": np.array(["n", "p"])[gold]}).to_parquet(
        tmp_path / "data.parquet")
    (tmp_path / "labels.json").write_text(json.dumps({"names": ["n", "p"]}))
    with pytest.raises(SystemExit) as exc:
        main(["errors", str(tmp_path), "--cut", "top:5"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert "refusing to flag: the model is at or near chance" in err and "--force-flag" in err
    assert not (tmp_path / "label_issues.parquet").exists()
    out = CliRunner().invoke(app, ["errors", str(tmp_path), "--cut", "top:5", "--force-flag"])
    assert out.exit_code == 0 and "flagged despite" in out.output
    assert int(pd.read_parquet(tmp_path / "label_issues.parquet")["flag"].sum()) == 5


def test_a_cut_that_flags_most_examples_is_refused(tmp_path):
    run, _, _ = make_run(tmp_path)
    with pytest.raises(DatamapError, match="would flag 40 of 60 examples"):
        find_errors(run, cut="top:40", max_class_share=1.0)


def test_select_drop_errors_from_the_command_line_without_metrics(tmp_path):
    """The README's order (errors, then select --drop-errors, no `datamap metrics`): the pool is
    label_issues.parquet and the health lines have nothing to judge (they used to crash on the missing file)."""
    run, _, _ = make_run(tmp_path)
    find_errors(run)
    assert not (run / "metrics.parquet").exists()
    out = CliRunner().invoke(app, ["select", str(run), "--out", "clean", "--drop-errors"])
    assert out.exit_code == 0, out.output
    ids = set(json.loads((run / "selections" / "clean.json").read_text())["ids"])
    assert ids == {f"x{i}" for i in range(N)} - FLIPPED
