"""Selection: core selectors on a hand-made metrics table, selection files, and the select command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamap.core.selection import (
    SWEEP_FRACTIONS,
    Recipe,
    filter_mask,
    fraction_count,
    parse_filter,
    select,
    select_by,
    sweep,
)

from selection_table import TABLE  # noqa: E402

INF = math.inf


def ids(result):
    return [int(i[1:]) for i in result.ids]


# ------------------------------------------------------------------ regions by fraction


def test_region_parts_by_hand():
    assert ids(select(TABLE, Recipe(ambiguous=0.3))) == [2, 5, 9]  # tie 2/5 broken by position
    assert ids(select(TABLE, Recipe(easy=0.3))) == [0, 8, 3]
    assert ids(select(TABLE, Recipe(hard=0.2))) == [7, 1]


def test_parts_are_disjoint_and_take_the_next_in_ranking():
    r = select(TABLE, Recipe(ambiguous=0.3, easy=0.5))
    assert r.parts["ambiguous"].tolist() == [2, 5, 9]
    # easy ranking skips 2, 5, 9 (already ambiguous) and goes on to 4
    assert r.parts["easy"].tolist() == [0, 8, 3, 6, 4]
    assert r.sizes == {"ambiguous": 3, "easy": 5}
    assert r.indices.tolist() == [2, 5, 9, 0, 8, 3, 6, 4]
    assert r.class_sizes == {"0": 5, "1": 3}


def test_random_part_disjoint_seeded():
    recipe = Recipe(ambiguous=0.3, easy=0.3, hard=0.3, random=0.1)
    a = select(TABLE, recipe, seed=3)
    b = select(TABLE, recipe, seed=3)
    assert a.indices.tolist() == b.indices.tolist()
    # only example 6 is left for the random part
    assert a.parts["random"].tolist() == [6]
    assert sorted(a.indices.tolist()) == list(range(10))


def test_random_determinism_and_seed_dependence():
    n = 1000
    rng = np.random.default_rng(0)
    table = {"id": np.arange(n).astype(str), "confidence": rng.random(n), "variability": rng.random(n) * 0.5}
    a = select(table, Recipe(random=0.1), seed=1).indices
    b = select(table, Recipe(random=0.1), seed=1).indices
    c = select(table, Recipe(random=0.1), seed=2).indices
    assert len(a) == 100 and len(set(a.tolist())) == 100
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()


def test_fraction_rounds_down():
    assert fraction_count(0.29, 100) == 29  # 0.29 * 100 = 28.999999999999996 in floats
    assert fraction_count(0.33, 10) == 3
    assert fraction_count(0.39, 10) == 3
    assert fraction_count(1.0, 7) == 7
    assert len(select(TABLE, Recipe(ambiguous=0.39))) == 3


def test_sizes_asked_are_delivered_or_error():
    with pytest.raises(ValueError, match="random: asked for 8 examples but only 7"):
        select(TABLE, Recipe(random=0.8, drop_hard=True))


# ------------------------------------------------------------------ ranking by any column


def test_ranking_by_column_top_bottom_fraction_count():
    # forgetfulness inf (never learnt) ranks highest; ties by position
    assert select_by(TABLE, "forgetfulness", top=3).tolist() == [1, 4, 7]
    assert select_by(TABLE, "forgetfulness", bottom=0.2).tolist() == [0, 8]
    assert select_by(TABLE, "correctness", bottom=4).tolist() == [1, 4, 7, 2]
    assert select_by(TABLE, "variability", top=0.3).tolist() == [2, 5, 9]
    r = select(TABLE, Recipe(by="confidence", top=2))
    assert r.sizes == {"top:confidence": 2}


def test_ranking_combined_with_regions_is_disjoint():
    r = select(TABLE, Recipe(ambiguous=0.3, by="confidence", top=3))
    assert r.parts["top:confidence"].tolist() == [0, 8, 3]
    r = select(TABLE, Recipe(easy=0.2, by="confidence", top=2))
    assert r.parts["easy"].tolist() == [0, 8]
    assert r.parts["top:confidence"].tolist() == [3, 6]


def test_sweep_allenai_fractions():
    n = 100
    table = {"id": np.arange(n).astype(str), "variability": np.linspace(0, 0.5, n), "confidence": np.linspace(1, 0, n)}
    res = sweep(table, Recipe(ambiguous=0.33))
    assert list(res) == list(SWEEP_FRACTIONS)
    assert [len(r) for r in res.values()] == [1, 5, 10, 17, 25, 33, 50, 75]
    # rankings are nested: each selection is a prefix of the next
    prev = []
    for r in res.values():
        assert r.indices.tolist()[: len(prev)] == prev
        prev = r.indices.tolist()
    assert prev[0] == n - 1  # highest variability first
    res = sweep(table, Recipe(by="confidence", bottom=0.5), fractions=(0.1, 0.2))
    assert [r.indices.tolist() for r in res.values()] == [list(range(99, 89, -1)), list(range(99, 79, -1))]


def test_sweep_needs_one_part():
    with pytest.raises(ValueError, match="exactly one part"):
        sweep(TABLE, Recipe(ambiguous=0.1, easy=0.1))
    with pytest.raises(ValueError, match="exactly one part"):
        sweep(TABLE, Recipe())


# ------------------------------------------------------------------ threshold filters


@pytest.mark.parametrize(
    "text,expected",
    [
        ("confidence<0.5", [1, 4, 7, 9]),
        ("confidence<=0.5", [1, 2, 4, 5, 7, 9]),
        ("confidence>0.5", [0, 3, 6, 8]),
        ("confidence>=0.5", [0, 2, 3, 5, 6, 8]),
        ("confidence==0.5", [2, 5]),
        ("confidence!=0.5", [0, 1, 3, 4, 6, 7, 8, 9]),
        ("variability >= 0.35", [2, 5, 9]),
        ("correctness<=0.4", [1, 2, 4, 7, 9]),
        ("forgetfulness>=3", [1, 4, 5, 7]),
        ("forgetfulness==inf", [1, 4, 7]),
        ("region==ambiguous", [2, 5, 9]),
        ("region!=hard", [0, 2, 3, 5, 6, 8, 9]),
    ],
)
def test_filters_strict_and_inclusive_exactly(text, expected):
    assert np.flatnonzero(filter_mask(TABLE, [text])).tolist() == expected
    assert ids(select(TABLE, Recipe(where=(text,)))) == expected


def test_filters_combine_and_feed_parts():
    r = select(TABLE, Recipe(where=("confidence<=0.5", "variability>0.1")))
    assert ids(r) == [2, 4, 5, 9]
    assert r.n_pool == 4
    r = select(TABLE, Recipe(where=("confidence<=0.5",), ambiguous=0.2))
    assert ids(r) == [2, 5]


def test_filter_errors():
    with pytest.raises(ValueError) as e:
        select(TABLE, Recipe(where=("confidnce<0.5",)))
    msg = str(e.value)
    assert "'confidnce'" in msg and "confidence" in msg and "variability" in msg and "\n" not in msg
    with pytest.raises(ValueError, match="cannot parse filter"):
        parse_filter("confidence ~ 0.5")
    with pytest.raises(ValueError, match="cannot parse filter"):
        parse_filter("confidence<")
    with pytest.raises(ValueError, match="only == and != apply"):
        filter_mask(TABLE, ["region<ambiguous"])
    with pytest.raises(ValueError, match="is numeric"):
        filter_mask(TABLE, ["confidence<high"])
    assert parse_filter("variability >= 0.2") == ("variability", ">=", 0.2)


# ------------------------------------------------------------------ data_pct, drop_hard, stratify


def test_data_pct():
    r = select(TABLE, Recipe(data_pct=0.5), seed=0)
    assert len(r) == 5 and len(set(r.ids)) == 5
    assert len(select(TABLE, Recipe(data_pct=1.0))) == 10
    assert select(TABLE, Recipe(data_pct=0.5), seed=4).ids == select(TABLE, Recipe(data_pct=0.5), seed=4).ids
    # thins a selection, keeping its order
    r = select(TABLE, Recipe(ambiguous=0.3, easy=0.3, data_pct=0.5), seed=0)
    assert len(r) == 3 and set(r.indices) <= {2, 5, 9, 0, 8, 3}
    order = [2, 5, 9, 0, 8, 3]
    assert r.indices.tolist() == sorted(r.indices.tolist(), key=order.index)
    for bad in (0, 0.0, -0.1, 1.5, "x"):
        with pytest.raises(ValueError, match="data_pct"):
            select(TABLE, Recipe(data_pct=bad))


def test_drop_hard_combines():
    r = select(TABLE, Recipe(drop_hard=True))
    assert ids(r) == [0, 2, 3, 5, 6, 8, 9]
    assert r.n_pool == 7
    # the hard ranking then starts from the lowest confidence left (9, 0.40)
    assert ids(select(TABLE, Recipe(drop_hard=True, hard=0.1))) == [9]
    assert len(select(TABLE, Recipe(drop_hard=True, data_pct=0.5))) == 3
    r = select(TABLE, Recipe(drop_hard=True, random=0.7), seed=2)
    assert sorted(ids(r)) == [0, 2, 3, 5, 6, 8, 9]
    with pytest.raises(ValueError, match="region"):
        select({"confidence": TABLE["confidence"]}, Recipe(drop_hard=True))


def test_stratify_within_classes():
    r = select(TABLE, Recipe(ambiguous=0.4, stratify=True), label_names=["neg", "pos"])
    # class 0 (0 2 4 6 8): variability 2 > 4; class 1 (1 3 5 7 9): 5 > 9
    assert r.indices.tolist() == [2, 4, 5, 9]
    assert r.class_sizes == {"neg": 2, "pos": 2}
    r = select(TABLE, Recipe(random=0.2, stratify=True), seed=0)
    assert r.class_sizes == {"0": 1, "1": 1}
    r = select(TABLE, Recipe(data_pct=0.4, stratify=True), seed=0)
    assert r.class_sizes == {"0": 2, "1": 2}
    with pytest.raises(ValueError, match="fraction, not a count"):
        select(TABLE, Recipe(by="aum", top=3, stratify=True))


def test_no_part_selects_whole_pool_and_dataframe_input():
    r = select(pd.DataFrame(TABLE), Recipe())
    assert r.indices.tolist() == list(range(10))
    assert r.sizes == {"all": 10}


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "recipe,match",
    [
        (Recipe(ambiguous=-0.1), "ambiguous must be a fraction"),
        (Recipe(easy=1.1), "easy must be a fraction"),
        (Recipe(random=2), "random must be a fraction"),
        (Recipe(ambiguous=0.5, easy=0.4, random=0.2), "sum to 1.1 > 1"),
        (Recipe(by="confidence", top=0.1, bottom=0.1), "only one of top / bottom"),
        (Recipe(top=0.1), "need a column to rank by"),
        (Recipe(by="confidence"), "needs top or bottom"),
        (Recipe(by="confidence", top=1.5), "top must be a fraction"),
        (Recipe(by="confidence", top=-3), "top count must be an integer >= 0, got -3"),
        (Recipe(by="region", top=3), "not numeric"),
        (Recipe(by="aumm", top=3), "unknown column 'aumm'"),
    ],
)
def test_bad_recipes(recipe, match):
    with pytest.raises(ValueError, match=match) as e:
        select(TABLE, recipe)
    assert "\n" not in str(e.value)


def test_recipe_roundtrip():
    r = Recipe(ambiguous=0.33, random=0.1, where=("confidence<0.5",), drop_hard=True)
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert Recipe.from_dict(d) == r
    with pytest.raises(ValueError, match="unknown recipe key 'ambiguos'"):
        Recipe.from_dict({"ambiguos": 0.3})


# ------------------------------------------------------------------ property tests


@st.composite
def tables_and_recipes(draw):
    n = draw(st.integers(1, 120))
    n_classes = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    # coarse values force many ties
    table = {
        "id": np.array([f"x{i}" for i in range(n)], dtype=object),
        "gold": rng.integers(0, n_classes, n),
        "confidence": rng.integers(0, 5, n) / 4,
        "variability": rng.integers(0, 3, n) / 4,
    }
    fr = [draw(st.floats(0, 1)) for _ in range(4)]
    total = sum(fr)
    if total > 1:
        fr = [f / total * 0.999 for f in fr]
    recipe = Recipe(ambiguous=fr[0], easy=fr[1], hard=fr[2], random=fr[3], stratify=draw(st.booleans()))
    return table, recipe, seed


@settings(max_examples=150, deadline=None)
@given(tables_and_recipes())
def test_property_sizes_and_disjoint(case):
    table, recipe, seed = case
    n = len(table["id"])
    r = select(table, recipe, seed=seed)
    idx = r.indices.tolist()
    assert len(set(idx)) == len(idx)  # disjoint parts, no repeats
    assert all(0 <= i < n for i in idx)
    groups = [np.sum(table["gold"] == g) for g in np.unique(table["gold"])] if recipe.stratify else [n]
    for part in ("ambiguous", "easy", "hard", "random"):
        f = getattr(recipe, part)
        expected = sum(fraction_count(f, int(g)) for g in groups) if f > 0 else None
        assert r.sizes.get(part) == expected
    assert len(idx) == sum(r.sizes.values())
    assert select(table, recipe, seed=seed).indices.tolist() == idx


def test_where_on_text_needs_a_known_value_and_suggests_one():
    from datamap.core.selection import filter_mask

    table = {"region": np.array(["easy", "ambiguous", "hard"], dtype=object), "gold": np.array([0, 1, 1])}
    with pytest.raises(ValueError, match=r"^region==ambigous: no example has region 'ambigous' \(did you mean 'ambiguous'\?\)$"):
        filter_mask(table, ["region==ambigous"])
    assert filter_mask(table, ["region==none"]).tolist() == [False, False, False]  # a region name, even if empty
    assert filter_mask(table, ["region!=hard"]).tolist() == [True, True, False]


def test_where_on_gold_accepts_class_names():
    from datamap.core.selection import filter_mask

    table = {"gold": np.array([0, 1, 1]), "pred": np.array([1, 1, 0])}
    names = ["neg", "pos"]
    assert filter_mask(table, ["gold==pos"], label_names=names).tolist() == [False, True, True]
    assert filter_mask(table, ["pred!=pos"], label_names=names).tolist() == [False, False, True]
    with pytest.raises(ValueError, match=r"gold==pso: no class named 'pso' \(did you mean 'pos'\?\) \(classes: neg, pos\)"):
        filter_mask(table, ["gold==pso"], label_names=names)
    with pytest.raises(ValueError, match="is numeric"):
        filter_mask(table, ["gold==pos"])  # without label names a name is no number
