"""The core's public surface: ValueError in its own words, keyword-only options (imports: tests/test_layers.py)."""

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import datamap.core
from datamap.core import (checks, choices, clusters, cuts, health, label_errors, metrics, noise, pairing, probs,
                          regions, sampling, selection, sft_metrics)

CORE = Path(datamap.core.__file__).parent
MODULES = (checks, choices, clusters, cuts, health, label_errors, metrics, noise, pairing, probs, regions, sampling, selection,
           sft_metrics)
FLAG = re.compile(r"(?<![\w-])--[a-z]")  # a command-line option such as --drop-hard


def test_every_core_module_is_covered():
    assert {p.stem for p in CORE.glob("*.py")} - {"__init__"} == {m.__name__.rsplit(".", 1)[1] for m in MODULES}


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_text_names_no_command_line_option(path):
    """Messages and docstrings describe parameters; options like --drop-hard belong to the CLI."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not FLAG.search(node.value), (path.name, node.value[:80])
    assert "DatamapError" not in path.read_text()


# functions whose every parameter after the data must be passed by name
KEYWORD_ONLY = {
    metrics.compute_metrics: ("burn_out", "entropy_epoch"),
    regions.top_k: ("largest",),
    regions.region_indices: ("fraction",),
    regions.assign_regions: ("fraction",),
    selection.select: ("seed", "label_names"),
    selection.select_by: ("top", "bottom", "seed"),
    selection.sweep: ("fractions", "part", "seed", "label_names"),
    selection.parse_filter: ("columns",),
    pairing.LambdaSampler.draw: ("per",),
    probs.softmax: ("axis",),
    probs.log_softmax: ("axis",),
    probs.looks_like_probabilities: ("axis", "atol"),
    probs.logits_from_probabilities: ("axis", "atol"),
    health.check_chance: ("what", "margin"),
    health.check_epochs: ("minimum", "unit"),
    health.check_unigram: ("what", "share"),
    health.check_imbalance: ("what", "ratio", "check"),
    health.check_selection: ("what", "factor"),
    health.health_checks: ("gold", "pred", "n_classes", "epochs", "names", "evals", "selections"),
    sampling.stratified_sample: ("seed",),
    checks.check_fraction: ("low", "high", "low_inclusive", "high_inclusive"),
    checks.check_number: ("low", "high", "low_inclusive", "high_inclusive"),
    checks.check_int: ("low", "high"),
    noise.flip_uniform: ("rate", "seed"),
    noise.flip_pairs: ("rate", "mapping", "seed"),
    noise.flip_matrix: ("matrix", "seed"),
    noise.flip_labels: ("kind", "rate", "matrix", "mapping", "seed"),
    label_errors.threshold_cut: ("percentile",),
    label_errors.precision_at_k: ("k",),
    label_errors.pick_threshold_samples: ("seed",),
    cuts.resolve_cut: ("has_threshold_samples",),
    cuts.rank_cut: ("estimated",),
    cuts.cap_per_class: ("max_share",),
    cuts.refusal: ("most",),
    sft_metrics.sft_metrics: ("burn_out",),
    sft_metrics.trajectory_matrix: ("standardize",),
    clusters.s2l_quotas: ("budget", "ids"),
}


@pytest.mark.parametrize("func", list(KEYWORD_ONLY), ids=lambda f: f.__qualname__)
def test_options_are_keyword_only(func):
    params = inspect.signature(func).parameters
    kw_only = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert kw_only == set(KEYWORD_ONLY[func])


def test_options_passed_by_position_are_refused():
    logits, gold = np.zeros((2, 2, 2), dtype=np.float32), np.array([0, 1])
    with pytest.raises(TypeError):
        metrics.compute_metrics(logits, gold, 1)
    with pytest.raises(TypeError):
        regions.assign_regions(np.zeros(3), np.zeros(3), 0.5)
    with pytest.raises(TypeError):
        selection.select({"confidence": np.zeros(3)}, None, 1)
    with pytest.raises(TypeError):
        selection.Recipe(0.3)  # recipe fields are named too


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: metrics.compute_metrics(np.zeros((2, 3, 2)), np.array([0, 1]), burn_out=4),
         r"^burn_out must be an integer in \[1, 3\], got 4$"),
        (lambda: metrics.compute_metrics(np.zeros((2, 3, 2)), np.array([0, 1]), burn_out=2, entropy_epoch=2),
         r"^entropy_epoch must be an integer in \[-2, 1\], got 2$"),
        (lambda: sft_metrics.sft_metrics(np.ones((2, 3)), np.ones((2, 3)), np.zeros((2, 3)), burn_out=4),
         r"^burn_out must be an integer in \[1, 3\], got 4$"),
        (lambda: regions.region_indices(np.zeros(3), np.zeros(3), fraction=1.5),
         r"^fraction must be a fraction in \[0, 1\], got 1\.5$"),
        (lambda: selection.sweep({"confidence": np.zeros(3)}, selection.Recipe(easy=0.1), fractions=(0.1, 2.0)),
         r"^fractions\[1\] must be a fraction in \[0, 1\], got 2\.0$"),
        (lambda: pairing.parse_lambda("beta:0"), r"^spec 'beta:0': ALPHA must be a finite number > 0, got 0\.0$"),
        (lambda: pairing.parse_lambda("fixed:2"), r"^spec 'fixed:2': L must be a fraction in \[0, 1\], got 2\.0$"),
        (lambda: pairing.parse_lambda("beta:1").draw(np.random.default_rng(0), 3, per="epoch"),
         r"^per must be 'example' or 'batch', got 'epoch'$"),
    ],
)
def test_value_errors_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
