"""The experiment file: every mistake reported with its path before any work; overrides; sweeps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from datamap.errors import DatamapError
from datamap.experiment.config import apply_overrides, load_config, run_names, validate, variants, yaml_path

REPO = Path(__file__).resolve().parents[2]

BASE = {
    "data": {"dataset": "toy", "limit": 50},
    "train": {"epochs": 2, "model": "tiny"},
    "selections": {"ambiguous": {"ambiguous": [0.1, 0.33]}, "random": {"random_like": "ambiguous"},
                   "easy": {"easy": 0.25}},
    "experiments": [{"name": "full"}, {"name": "amb", "selection": "ambiguous"},
                    {"name": "amb_mix", "selection": "ambiguous", "train": {"mixup": {"site": "pooled"}}},
                    {"name": "rand", "selection": "random"}],
    "seeds": [1, 2],
    "evaluation": [{"name": "validation", "split": "validation"}],
    "ensemble": [{"name": "ens", "members": ["full", "amb_10"]}],
}


def check(overrides: list[str], *expected: str) -> str:
    with pytest.raises(DatamapError) as exc:
        validate(apply_overrides(BASE, overrides), "exp.yaml")
    msg = str(exc.value)
    assert msg.startswith("exp.yaml: ")
    for part in expected:
        assert part in msg, msg
    return msg


def test_the_base_config_is_valid():
    cfg = validate(BASE)
    assert run_names(cfg) == {"full": ("full", None), "amb_10": ("amb", "ambiguous_10"), "amb_33": ("amb", "ambiguous_33"),
                              "amb_mix_10": ("amb_mix", "ambiguous_10"), "amb_mix_33": ("amb_mix", "ambiguous_33"),
                              "rand_10": ("rand", "random_10"), "rand_33": ("rand", "random_33")}


# at least ten kinds of mistakes, each named by its path in the file
@pytest.mark.parametrize("overrides, expected", [
    (["experiments[1].selection=ambigous"], ["experiments[1].selection: no selection named 'ambigous' (did you mean 'ambiguous'?)"]),
    (["trian={}"], ["trian: is not an option"]),                                               # unknown top-level key
    (["experiments[0].lr=0.1"], ["experiments[0].lr: is not an option"]),                      # unknown nested key
    (["train.epochs=zero"], ["train.epochs: input should be a valid integer"]),                # wrong type
    (["train.epochs=0"], ["train.epochs: must be >= 1, got 0"]),                               # out of range
    (["experiments[2].train.lr=-1"], ["experiments[2].train.lr: must be > 0, got -1"]),        # per-experiment override
    (["experiments[2].train.mixup.start_epoch=5"], ["experiments[2].train.mixup.start_epoch: must be < train.epochs (2), got 5"]),
    (["train.mixup={pairing: random}"], ["train.mixup.pairing: given without train.mixup.site"]),
    (["data.limit=0"], ["data.limit: must be >= 1, got 0"]),
    (["data.limit=null", "data.limit_mode=random"], ["data.limit_mode: given without data.limit"]),
    (["train.dataset=x"], ["train.dataset: belongs to the data section (data.dataset)"]),
    (["train.seed=3"], ["train.seed: not allowed (set by the top-level seeds list)"]),
    (["selections.ambiguous.ambiguous=1.5"], ["selections.ambiguous.ambiguous: a fraction must be in [0, 1], got 1.5"]),
    (["selections.ambiguous.easy=[0.1]"], ["selections.ambiguous: only one part may be a list (a sweep), got ambiguous, easy"]),
    (["selections.easy.easy=0.8", "selections.easy.hard=0.5"], ["selections.easy: region fractions sum to 1.3 > 1"]),
    (["selections.random.random_like=ambigous"], ["selections.random.random_like: no selection named 'ambigous' (did you mean 'ambiguous'?)"]),
    (["selections.easy.cluster={mode: round-robin, budget: 0.1}"], ["selections.easy.cluster: needs cartography.clusters"]),
    (["seeds=[1, 1]"], ["seeds: repeats a seed: [1, 1]"]),
    (["seeds=[]"], ["seeds: list should have at least 1 item"]),
    (["experiments[3].name=amb"], ["experiments[3].name: 'amb' is already the name of experiments[1]"]),
    (["experiments[0].name=a/b"], ["experiments[0].name: 'a/b' is not a valid name"]),
    (["ensemble[0].members[1]=amb_11"], ["ensemble[0].members[1]: no run named 'amb_11' (did you mean 'amb_10'?)"]),
    (["ensemble[0].weights=[1.0]"], ["ensemble[0].weights: 1 weights for 2 members"]),
    (["evaluation[0].limit=-3"], ["evaluation[0].limit: must be >= 1, got -3"]),
    (["cartography.metrics.fraction=0"], ["cartography.metrics.fraction: must be > 0, got 0"]),
    (["cartography.maps=[svg]"], ["cartography.maps[0]: input should be 'png' or 'html', got 'svg'"]),
])
def test_mistakes_are_named_by_their_path(overrides, expected):
    check(overrides, *expected)


def test_several_mistakes_reported_together():
    msg = check(["train.lr=-1", "experiments[1].selection=ambigous"])
    assert "train.lr: must be > 0" in msg and "experiments[1].selection: no selection named" in msg


def test_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(DatamapError, match=r"bad.yaml: not valid YAML"):
        load_config(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(DatamapError, match="the top level must be a mapping"):
        load_config(bad)
    bad.write_text("!!python/object/apply:os.system ['echo hi']\n")  # safe_load refuses python tags
    with pytest.raises(DatamapError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(DatamapError, match="nothere.yaml: not found"):
        load_config(tmp_path / "nothere.yaml")


def test_overrides_parse_yaml_values_and_paths():
    raw = apply_overrides(BASE, ["train.epochs=5", "experiments[1].train.lr=1e-4", "seeds=[7]",
                                 "experiments.2.name=mix", "cartography.metrics.fraction=0.25"])
    assert raw["train"]["epochs"] == 5 and raw["experiments"][1]["train"]["lr"] == 1e-4 and raw["seeds"] == [7]
    assert raw["experiments"][2]["name"] == "mix" and raw["cartography"] == {"metrics": {"fraction": 0.25}}
    assert BASE["train"]["epochs"] == 2  # the original is untouched
    with pytest.raises(DatamapError, match=r"override 'experiments\[9\].name=x': experiments\[9\] does not exist"):
        apply_overrides(BASE, ["experiments[9].name=x"])
    with pytest.raises(DatamapError, match="expected key.path=value"):
        apply_overrides(BASE, ["train.epochs"])


def test_sweep_variants_and_sizes():
    cfg = validate(BASE)
    vs = variants("ambiguous", cfg.selections["ambiguous"])
    assert [(n, r.ambiguous, axis) for n, r, axis in vs] == [("ambiguous_10", 0.1, {"ambiguous": 0.1}),
                                                             ("ambiguous_33", 0.33, {"ambiguous": 0.33})]
    cfg = validate(apply_overrides(BASE, ["selections.top={by: aum, bottom: [5, 10]}"]))
    assert [n for n, _, _ in variants("top", cfg.selections["top"])] == ["top_5", "top_10"]


def test_yaml_path():
    assert yaml_path(("experiments", 2, "train", "mixup", "lam")) == "experiments[2].train.mixup.lam"
    assert yaml_path(()) == "config"


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_is_valid(path, tmp_path, monkeypatch):
    dataset = yaml.safe_load(path.read_text(encoding="utf-8"))["data"]["dataset"]
    if dataset.endswith(".parquet"):  # a file the example's header makes first (datamap noise ...)
        monkeypatch.chdir(tmp_path)
        (tmp_path / dataset).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / dataset).write_bytes(b"")
    cfg = load_config(path)
    assert cfg.seeds and cfg.evaluation


def test_the_example_in_docs_experiments_md_is_valid():
    import re

    text = (REPO / "docs" / "experiments.md").read_text(encoding="utf-8")
    block = re.findall(r"```yaml\n(.*?)```", text, re.S)[0]
    cfg = validate(yaml.safe_load(block))
    assert "td_33" in run_names(cfg) and cfg.cartography.clusters is not None


def test_local_data_is_checked_before_any_work(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    for split in ("train", "validation"):
        (mirror / "toy" / f"{split}.parquet").write_bytes(b"")  # existence is what is checked here
    monkeypatch.setenv("DATAMAP_DATA_DIR", str(mirror))
    validate(BASE)  # toy's train and validation are in the mirror
    check(["evaluation[0].split=tset"], f"evaluation[0]: {mirror / 'toy'}: no 'tset' split (found: train, validation)")
    check(["data.dataset=tyo"], "data: 'tyo' is not in the local mirror", "(did you mean 'toy'?)")
    msg = check(["evaluation[0].dataset=missing.parquet"], "evaluation[0]: missing.parquet: file not found")
    assert "data:" not in msg  # the training data is fine and not mentioned
    # a name far from every mirror entry is a hub dataset: not probed, no problem
    validate(apply_overrides(BASE, ["evaluation[0].dataset=someone/hub_set"]))
    local = tmp_path / "held.parquet"
    local.write_bytes(b"")
    validate(apply_overrides(BASE, [f"evaluation[0].dataset={local}"]))


def test_where_filters_are_checked_before_any_training():
    check(["selections.low={where: ['confidnce<0.3']}"], "selections.low.where[0]: filter 'confidnce<0.3': unknown column 'confidnce'")
    check(["selections.low={where: ['confidence ~ 0.3']}"], "selections.low.where[0]: cannot parse filter 'confidence ~ 0.3'")
    cfg = validate(apply_overrides(BASE, ["selections.low={where: ['label_issue==0', 'region!=hard', 'aum>0']}"]))
    assert cfg.selections["low"].where == ["label_issue==0", "region!=hard", "aum>0"]
