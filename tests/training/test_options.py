"""Every training option changes training the way it says, compared with the plain run.

Each test trains through the command line (``datamap.cli.main``, in process) and compares what
came out - the learned weights (RUN/model/model.safetensors) and the recorded per-example logits
(RUN/dynamics.parquet) - with the plain run or with a run that differs in one flag, so it fails if
the loop ignored the option. Counting files or rows would not.

Setting: 60 examples (``make_sentiment_frame``), batch 8, 2 epochs, lr 5e-4, seed 1, weight decay
0 and no warm-up (the first step already moves the weights). Runs are made once per module and
shared: :meth:`Lab.run` caches them by name.

Two models:

* ``main``: the conftest tiny BERT as it is (dropout 0.1), max length 32;
* ``exact``: the same model with every dropout at 0 (and the pooler's weights scaled up, see
  :meth:`Lab._exact_model`), max length 6. Every text has at least
  6 tokens ([CLS], 3+ filler words, a sentiment word, ``w<i>``, [SEP]), so every row is truncated
  to 6 tokens: no padding anywhere. Mixup at λ = 1 is then an exact copy of the batch at every
  site (see :func:`test_mixup_at_lambda_one_is_the_plain_run`).

Where a test says "equal" it allows ``SAME`` (rounding: the soft-target loss of the mixup and
drop-hard steps against PyTorch's fused cross-entropy of the plain step); "differs" means by more
than ``APART``. The plain run moves the weights by about 4e-3 (max abs), the differences tested
here are 8e-4 or more.

Covered elsewhere: ``--freeze-base`` (tests/stages/test_act.py, only ``classifier.*`` tensors
change), ``--record epoch_end`` (tests/training/test_loop.py, the last epoch equals a forward pass
of the saved model) and ``--record none``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_sentiment_frame
from datamap.cli import main
from datamap.io.store import read_dynamics

pytestmark = pytest.mark.slow

SAME = 1e-6
APART = 1e-4
BATCH = 8
COMMON = ["--epochs", "2", "--batch-size", str(BATCH), "--lr", "5e-4", "--eval-split", "none", "--seed", "1",
          "--weight-decay", "0", "--warmup-ratio", "0"]


def load_weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(Path(folder) / "model.safetensors")


def max_diff(a: dict, b: dict) -> float:
    """Largest absolute difference over all tensors of two state dicts with the same keys."""
    assert set(a) == set(b)
    return max(float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) for k in a)


def cli(*args) -> int:
    """``datamap ARGS`` in process; the exit status (typer exits with 0 on success)."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code
    return 0


class Lab:
    """The module's training runs, each made once and looked up by name."""

    def __init__(self, root: Path, model: Path):
        self.root = root
        self.csv = root / "train.csv"
        make_sentiment_frame(60).to_csv(self.csv, index=False)
        self.models = {"main": (model, 32), "exact": (self._exact_model(model), 6)}
        self._runs: dict[str, tuple] = {}

    def _exact_model(self, model: Path) -> Path:
        """A copy of ``model`` with every dropout at 0 and the pooler's weights scaled by 30.

        The scaling puts the pooler's tanh far from its linear range; with the initial small weights
        mixing its input (``hidden``) or its output (``pooled``) would give nearly the same model.
        """
        from safetensors.numpy import save_file

        folder = self.root / "tiny-bert-exact"
        shutil.copytree(model, folder)
        config = json.loads((folder / "config.json").read_text())
        config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        (folder / "config.json").write_text(json.dumps(config))
        weights = load_weights(folder)
        weights["bert.pooler.dense.weight"] = weights["bert.pooler.dense.weight"] * 30
        save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
        return folder

    def run(self, name: str, *flags, setting: str = "main", dataset: Path | None = None) -> Path:
        key = (tuple(map(str, flags)), setting, dataset)
        out = self.root / "runs" / name
        if name in self._runs:
            assert self._runs[name] == key, f"run {name!r} asked for with other flags"
            return out
        model, max_length = self.models[setting]
        status = cli("train", "--dataset", dataset or self.csv, "--model", model, "--out", out,
                     "--max-length", max_length, *COMMON, *flags)
        assert status == 0, f"datamap train {name}: exit status {status}"
        self._runs[name] = key
        return out

    def plain(self, setting: str = "main") -> Path:
        return self.run(f"plain-{setting}", setting=setting)

    def weights(self, run: Path) -> dict:
        return load_weights(run / "model")

    def dynamics(self, run: Path):
        return read_dynamics(run / "dynamics.parquet")

    def data(self) -> pd.DataFrame:
        return pd.read_parquet(self.plain() / "data.parquet")

    def earlier_run(self, name: str, region, entropy=None) -> Path:
        """A folder holding a hand-made metrics.parquet (what ``--dynamics-from`` reads)."""
        data = self.data()
        if entropy is None:
            entropy = np.random.default_rng(0).uniform(0.05, 0.69, len(data))
        folder = self.root / "earlier" / name
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"id": data["id"], "region": np.broadcast_to(np.asarray(region, dtype=object), len(data)),
                      "entropy": entropy}).to_parquet(folder / "metrics.parquet")
        return folder


@pytest.fixture(scope="module")
def lab(tmp_path_factory, tiny_model_dir):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 32-wide model: one thread is faster, and not slowed down by a busy machine
    try:
        yield Lab(tmp_path_factory.mktemp("options"), tiny_model_dir)
    finally:
        torch.set_num_threads(threads)


def assert_same_run(lab: Lab, a: Path, b: Path) -> None:
    assert max_diff(lab.weights(a), lab.weights(b)) <= SAME
    da, db = lab.dynamics(a), lab.dynamics(b)
    assert da.ids.tolist() == db.ids.tolist()
    np.testing.assert_allclose(da.logits, db.logits, rtol=0, atol=SAME)


def assert_apart(lab: Lab, a: Path, b: Path) -> None:
    assert max_diff(lab.weights(a), lab.weights(b)) > APART


# ------------------------------------------------------------------ --loss


def test_focal_loss(lab):
    """focal:0,1 is cross-entropy (same run as plain); focal:2,0.25 reweights examples (differs).

    α alone would barely show under Adam (it rescales every gradient alike), γ = 2 does.
    """
    plain = lab.plain()
    assert max_diff(lab.weights(plain), load_weights(lab.models["main"][0])) > 1e-3  # training moved the weights
    assert_same_run(lab, plain, lab.run("focal-0-1", "--loss", "focal:0,1"))
    assert_apart(lab, plain, lab.run("focal-2", "--loss", "focal:2,0.25"))


# ------------------------------------------------------------------ --drop-hard

MIXUP_BASE = ["--mixup", "pooled"]  # reverse pairing, beta:0.4, per example, mixed+original, ratio 1
STEPS = {"standard": [], "mixup": MIXUP_BASE}


@pytest.mark.parametrize("step", list(STEPS))
def test_drop_hard_with_every_example_hard_leaves_the_weights_alone(lab, step):
    """No example has a loss, weight decay is 0: AdamW sees zero gradients, no weight changes.

    The data map stays complete: every example is still recorded every epoch.
    """
    earlier = lab.earlier_run("all-hard", "hard")
    run = lab.run(f"drop-all-{step}", *STEPS[step], "--drop-hard", "--dynamics-from", earlier)
    initial, after = load_weights(lab.models["main"][0]), lab.weights(run)
    assert all(np.array_equal(initial[k], after[k]) for k in initial)
    dyn = lab.dynamics(run)
    assert sorted(dyn.ids.tolist()) == sorted(lab.data()["id"]) and dyn.n_epochs == 2
    assert np.isfinite(dyn.logits).all()


@pytest.mark.parametrize("step", list(STEPS))
def test_drop_hard_without_hard_examples_is_the_plain_run(lab, step):
    """Regions with no ``hard`` example: --drop-hard keeps every loss term."""
    earlier = lab.earlier_run("none-hard", ["easy", "ambiguous", "none"] * 20)
    reference = lab.plain() if step == "standard" else lab.run("mixup-base", *MIXUP_BASE)
    assert_same_run(lab, reference, lab.run(f"drop-none-{step}", *STEPS[step], "--drop-hard", "--dynamics-from", earlier))


@pytest.mark.parametrize("step", list(STEPS))
def test_drop_hard_positives_are_never_learned(lab, step):
    """Every positive example is ``hard``: only negative targets remain (mixup mixes negatives
    with negatives), so by the last epoch the model calls every example negative. The plain run
    (and the mixup run without --drop-hard) does not."""
    labels = lab.data()["label"].to_numpy()
    earlier = lab.earlier_run("pos-hard", np.where(labels == 1, "hard", "easy"))
    reference = lab.plain() if step == "standard" else lab.run("mixup-base", *MIXUP_BASE)
    run = lab.run(f"drop-pos-{step}", *STEPS[step], "--drop-hard", "--dynamics-from", earlier)

    def predicted_negative(r):
        last = lab.dynamics(r).logits[:, -1]
        return last[:, 0] > last[:, 1]

    assert predicted_negative(run).all()
    assert not predicted_negative(reference).all()
    assert_apart(lab, reference, run)


# ------------------------------------------------------------------ --mixup sites

ONE = ["--mixup-lambda", "fixed:1", "--mixup-mode", "mixed-only", "--mixup-pairing", "reverse"]
HALF = ["--mixup-lambda", "fixed:0.5", "--mixup-mode", "mixed-only", "--mixup-pairing", "reverse"]
SITES = ["embeddings", "pooled", "hidden"]


@pytest.mark.parametrize(
    "site,setting", [("pooled", "main"), ("embeddings", "exact"), ("pooled", "exact"), ("hidden", "exact")]
)
def test_mixup_at_lambda_one_is_the_plain_run(lab, site, setting):
    """λ = 1, mixed rows only: each mixed row is ``1·x_i + 0·x_partner = x_i`` with target
    ``onehot(y_i)``, so the loss, its gradient and every weight are the plain run's. The recorded
    (clean) logits are the plain run's too.

    What has to hold for the copy to be exact, checked empirically:

    * ``pooled`` mixes the classifier's input after the head's dropout; the mixed rows reuse the
      clean rows' dropout draws and the dropout draws as many numbers as in the plain run, so this
      holds with dropout on (``main``).
    * ``hidden`` mixes the pooler's input: the head's dropout then runs over 2B rows (other draws
      for the mixed rows, and the random stream advances further), so it holds only without
      dropout (``exact``; with dropout the weights differ by ~6e-3).
    * ``embeddings`` OR-s the two rows' attention masks, so a row paired with a longer one attends
      to padding, and in mixed-only mode the clean logits come from a separate no-grad forward
      that consumes dropout draws: it holds only without dropout and with rows of equal length
      (``exact``).

    Swapping λ and 1 − λ in the mixing turns each mixed row into its partner under the first
    member's target, which this test catches.
    """
    assert_same_run(lab, lab.plain(setting), lab.run(f"one-{site}-{setting}", "--mixup", site, *ONE, setting=setting))


@pytest.mark.parametrize("site", SITES)
def test_mixup_at_lambda_half_changes_training_but_records_clean_logits(lab, site):
    """λ = 0.5 changes the weights; the recorded logits are still the batch's own (clean) ones.

    Without dropout the first batch is computed from the initial weights in both runs, so its 8
    recorded rows equal the plain run's exactly; every later batch sees other weights. Had the
    step recorded the mixed logits (midpoints of reversed pairs), no row would match.
    """
    plain = lab.plain("exact")
    run = lab.run(f"half-{site}", "--mixup", site, *HALF, setting="exact")
    assert_apart(lab, plain, run)
    a, b = lab.dynamics(plain), lab.dynamics(run)
    assert a.ids.tolist() == b.ids.tolist()
    # later batches differ by 5e-6 or more at epoch 0; the first batch by rounding at most
    equal = np.abs(a.logits[:, 0] - b.logits[:, 0]).max(axis=1) <= 1e-7
    assert equal.sum() == BATCH, f"{equal.sum()} examples recorded as in the plain run, expected the first batch"


def test_mixup_sites_differ_from_each_other(lab):
    """The site is honoured: λ = 0.5 at each site gives three different models."""
    runs = {site: lab.run(f"half-{site}", "--mixup", site, *HALF, setting="exact") for site in SITES}
    for i, s in enumerate(SITES):
        for t in SITES[i + 1:]:
            assert max_diff(lab.weights(runs[s]), lab.weights(runs[t])) > APART, (s, t)


def test_mixup_start_epoch(lab):
    """--mixup-start-epoch 1: epoch 0 is the plain run's (same recorded logits), epoch 1 mixes."""
    plain = lab.plain()
    run = lab.run("half-pooled-from-1", "--mixup", "pooled", *HALF, "--mixup-start-epoch", "1")
    from_0 = lab.run("half-pooled-main", "--mixup", "pooled", *HALF)
    a, b, c = lab.dynamics(plain), lab.dynamics(run), lab.dynamics(from_0)
    np.testing.assert_allclose(b.logits[:, 0], a.logits[:, 0], rtol=0, atol=SAME)
    assert np.abs(b.logits[:, 1] - a.logits[:, 1]).max() > APART
    assert np.abs(c.logits[:, 0] - a.logits[:, 0]).max() > APART  # mixing from epoch 0 does differ there
    assert_apart(lab, plain, run)


# ------------------------------------------------------------------ mixup options

VARIANTS = {
    "pairing-random": ["--mixup-pairing", "random"],
    "pairing-same-label": ["--mixup-pairing", "same-label"],
    "mode-mixed-only": ["--mixup-mode", "mixed-only"],
    "lambda-per-batch": ["--mixup-lambda-per", "batch"],
    "lambda-beta-2": ["--mixup-lambda", "beta:2"],
    "ratio-half": ["--mixup-ratio", "0.5"],
    "loss-focal": ["--loss", "focal:2,0.25"],
}


def test_mixup_changes_the_plain_run(lab):
    assert_apart(lab, lab.plain(), lab.run("mixup-base", *MIXUP_BASE))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_mixup_option_changes_training(lab, variant):
    """One flag away from the base mixup run (pooled, reverse, beta:0.4 per example,
    mixed+original, ratio 1, ce): a different model."""
    base = lab.run("mixup-base", *MIXUP_BASE)
    assert_apart(lab, base, lab.run(f"mixup-{variant}", *MIXUP_BASE, *VARIANTS[variant]))


def test_in_batch_pairings_differ_from_each_other(lab):
    a = lab.run("mixup-pairing-random", *MIXUP_BASE, *VARIANTS["pairing-random"])
    b = lab.run("mixup-pairing-same-label", *MIXUP_BASE, *VARIANTS["pairing-same-label"])
    assert max_diff(lab.weights(a), lab.weights(b)) > APART


# ------------------------------------------------------------------ training-dynamics pairings


def test_dynamics_pairings_follow_the_earlier_run(lab):
    """td-entropy and easy-ambiguous read regions and entropies from a hand-made metrics file.

    * Regions where each label has easy and ambiguous examples: both differ from ``reverse``
      and from each other.
    * td-entropy with the same regions but shuffled entropies: another pairing, another model.
    * Regions where no label has both easy and ambiguous examples: easy-ambiguous falls back to
      the td-entropy rule for everyone, the same run.
    """
    rng = np.random.default_rng(3)
    regions = np.array(["easy", "ambiguous", "none"] * 20, dtype=object)  # labels alternate 0, 1
    entropy = rng.uniform(0.05, 0.69, len(regions))
    mixed = lab.earlier_run("regions-mixed", regions, entropy)
    shuffled = lab.earlier_run("regions-mixed-shuffled", regions, rng.permutation(entropy))
    labels = lab.data()["label"].to_numpy()
    split = lab.earlier_run("regions-by-label", np.where(labels == 0, "easy", "ambiguous"), entropy)

    base = lab.run("mixup-base", *MIXUP_BASE)
    td = lab.run("td-entropy", *MIXUP_BASE, "--mixup-pairing", "td-entropy", "--dynamics-from", mixed)
    ea = lab.run("easy-ambiguous", *MIXUP_BASE, "--mixup-pairing", "easy-ambiguous", "--dynamics-from", mixed)
    td_shuffled = lab.run("td-entropy-shuffled", *MIXUP_BASE, "--mixup-pairing", "td-entropy", "--dynamics-from", shuffled)
    assert_apart(lab, base, td)
    assert_apart(lab, base, ea)
    assert_apart(lab, td, ea)
    assert_apart(lab, td, td_shuffled)

    td_split = lab.run("td-entropy-split", *MIXUP_BASE, "--mixup-pairing", "td-entropy", "--dynamics-from", split)
    ea_split = lab.run("easy-ambiguous-split", *MIXUP_BASE, "--mixup-pairing", "easy-ambiguous", "--dynamics-from", split)
    assert_same_run(lab, td_split, ea_split)
    assert_apart(lab, td, td_split)


def test_dynamics_from_a_measured_run(lab):
    """``--dynamics-from RUN`` reads what ``datamap metrics RUN`` wrote: td-entropy differs from
    reverse, and leaving its hard-to-learn third out (``--drop-hard``) differs again."""
    earlier = lab.plain()
    assert cli("metrics", earlier) == 0
    assert (pd.read_parquet(earlier / "metrics.parquet")["region"] == "hard").sum() >= 10
    td = lab.run("measured-td", *MIXUP_BASE, "--mixup-pairing", "td-entropy", "--dynamics-from", earlier)
    td_drop = lab.run("measured-td-drop", *MIXUP_BASE, "--mixup-pairing", "td-entropy", "--dynamics-from", earlier,
                      "--drop-hard")
    assert_apart(lab, lab.run("mixup-base", *MIXUP_BASE), td)
    assert_apart(lab, td, td_drop)


def test_dynamics_pairing_needs_dynamics_from(lab, capsys):
    out = lab.root / "runs" / "no-dynamics"
    status = cli("train", "--dataset", lab.csv, "--model", lab.models["main"][0], "--out", out, *COMMON,
                 "--mixup", "pooled", "--mixup-pairing", "td-entropy")
    assert status == 2 and "--dynamics-from" in capsys.readouterr().err
    assert not out.exists()


# ------------------------------------------------------------------ --subset


def test_subset_trains_on_exactly_those_examples(lab):
    """--subset with every third id is the run on a file holding only those rows."""
    data = lab.data()
    chosen = data.iloc[::3]
    selection = lab.root / "every-third.json"
    selection.write_text(json.dumps({"ids": chosen["id"].tolist()}))
    only = lab.root / "every-third.csv"
    make_sentiment_frame(60).iloc[::3].to_csv(only, index=False)

    subset = lab.run("subset", "--subset", selection)
    direct = lab.run("subset-direct", dataset=only)
    assert lab.dynamics(subset).ids.tolist() == lab.dynamics(direct).ids.tolist() == chosen["id"].tolist()
    assert_same_run(lab, subset, direct)
    assert_apart(lab, lab.plain(), subset)
