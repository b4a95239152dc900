"""Mixup sites, strategies, losses and freezing on tiny config-built models (no tokenizer)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from transformers import (
    AlbertConfig,
    AutoModelForSequenceClassification,
    BertConfig,
    DistilBertConfig,
    ElectraConfig,
    RobertaConfig,
    XLMRobertaConfig,
)

from datamap.errors import DatamapError
from datamap.training.losses import focal_loss, parse_loss, soft_cross_entropy
from datamap.io.rundir import read_regions as load_dynamics
from pydantic import ValidationError

from datamap.training.config import MixupConfig, TrainConfig, config_error
from datamap.training.mixup import MixupStrategy
from datamap.training.models import find_head, freeze_base
from datamap.training.steps import StandardStep as StandardStrategy, build_step


def build_strategy(options: dict):
    """The step of a config built from ``options`` (errors as the command line shows them)."""
    try:
        cfg = TrainConfig(dataset="unused", **options)
    except ValidationError as exc:
        raise config_error(exc) from None
    return build_step(cfg)


def mixup(site: str, **settings) -> MixupConfig:
    return MixupConfig(site=site, **settings)

VOCAB, CLASSES = 60, 3
SMALL = dict(num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=40)


def make_config(kind: str):
    if kind == "bert":
        return BertConfig(vocab_size=VOCAB, hidden_size=32, **SMALL)
    if kind == "roberta":
        return RobertaConfig(vocab_size=VOCAB, hidden_size=32, pad_token_id=1, type_vocab_size=1, **SMALL)
    if kind == "xlm-roberta":
        return XLMRobertaConfig(vocab_size=VOCAB, hidden_size=32, pad_token_id=1, type_vocab_size=1, **SMALL)
    if kind == "electra":
        return ElectraConfig(vocab_size=VOCAB, embedding_size=16, hidden_size=32, **SMALL)
    if kind == "albert":
        return AlbertConfig(vocab_size=VOCAB, embedding_size=16, hidden_size=32, **SMALL)
    if kind == "distilbert":
        return DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=40)
    raise AssertionError(kind)


ARCHS = ["bert", "roberta", "distilbert", "electra", "albert", "xlm-roberta"]


def make_model(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    config = make_config(kind)
    config.num_labels = CLASSES
    return AutoModelForSequenceClassification.from_config(config)


def pad_id_of(kind: str) -> int:
    return 1 if "roberta" in kind else 0


def make_examples(kind: str, n: int = 24, seed: int = 0, equal_length: bool = False) -> list[dict]:
    """Random token ids (no tokenizer): [CLS]=2, words in [5, VOCAB), a second segment for pairs."""
    rng = np.random.default_rng(seed)
    pairs = kind in ("bert", "electra", "albert")
    out = []
    for i in range(n):
        length = 8 if equal_length else int(rng.integers(3, 13))
        ids = [2] + rng.integers(5, VOCAB, size=length - 1).tolist()
        example = {"input_ids": ids, "attention_mask": [1] * length, "labels": int(i % CLASSES), "index": i}
        if pairs:
            example["token_type_ids"] = [0] * (length // 2) + [1] * (length - length // 2)
        out.append(example)
    return out


def make_collate(pad_id: int):
    """Minimal stand-in for the loop's Collator: right-pads each batch to its longest row."""

    def collate(examples: list[dict]) -> dict:
        length = max(len(e["input_ids"]) for e in examples)
        batch = {}
        for key, fill in (("input_ids", pad_id), ("attention_mask", 0), ("token_type_ids", 0)):
            if key in examples[0]:
                batch[key] = torch.tensor([e[key] + [fill] * (length - len(e[key])) for e in examples])
        batch["labels"] = torch.tensor([e["labels"] for e in examples])
        batch["index"] = torch.tensor([e["index"] for e in examples])
        return batch

    return collate


def stock_logits(model, batch):
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
    if model.config.model_type == "distilbert":
        inputs.pop("token_type_ids", None)
    with torch.no_grad():
        return model(**inputs).logits


# ------------------------------------------------------------------ architectures


def test_a_model_without_a_findable_head_is_a_clear_error():
    """The head is found from the model; a model with no num_labels-wide linear layer outside its base
    model is refused, naming the option and the class."""
    model = make_model("bert")
    model.classifier = torch.nn.Sequential(torch.nn.Linear(32, 7), torch.nn.Linear(7, 5))  # 5 != num_labels
    with pytest.raises(DatamapError, match=r"--mixup: model class BertForSequenceClassification.*3 outputs"):
        find_head(model)
    with pytest.raises(DatamapError, match="--freeze-base"):
        freeze_base(model)


# ------------------------------------------------------------------ λ = 1 reproduces the stock model


@pytest.mark.parametrize("kind", ARCHS)
@pytest.mark.parametrize("site", ["pooled", "hidden", "embeddings"])
def test_lambda_one_gives_stock_logits(kind, site):
    model = make_model(kind).eval()
    # the embeddings site ORs the masks, so it reproduces the stock model only on equal lengths
    examples = make_examples(kind, n=6, equal_length=(site == "embeddings"))
    batch = make_collate(pad_id_of(kind))(examples)
    stock = stock_logits(model, batch)
    for mode in ("mixed-only", "mixed+original"):
        strategy = MixupStrategy(mixup(site, pairing="reverse", lam="fixed:1", mode=mode))
        with torch.no_grad():
            out = strategy.mix_forward(model, batch)
        assert out.partner_index.tolist() == [5, 4, 3, 2, 1, 0]
        torch.testing.assert_close(out.clean_logits, stock, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out.mixed_logits, stock, rtol=1e-5, atol=1e-6)
        # and λ = 0 gives the partner's logits
        strategy = MixupStrategy(mixup(site, pairing="reverse", lam="fixed:0", mode=mode))
        with torch.no_grad():
            out = strategy.mix_forward(model, batch)
        torch.testing.assert_close(out.mixed_logits, stock.flip(0), rtol=1e-5, atol=1e-6)
        assert torch.equal(out.soft_targets, F.one_hot(batch["labels"].flip(0), CLASSES).float())


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_pooled_site_mixes_linearly(kind):
    """At the pooled site the logits of a mix are the mix of the logits (the last layer is linear)."""
    model = make_model(kind).eval()
    batch = make_collate(pad_id_of(kind))(make_examples(kind, n=4))
    strategy = MixupStrategy(mixup("pooled", pairing="reverse", lam="fixed:0.3"))
    with torch.no_grad():
        out = strategy.mix_forward(model, batch)
    stock = stock_logits(model, batch)
    torch.testing.assert_close(out.mixed_logits, 0.3 * stock + 0.7 * stock.flip(0), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ embeddings site details


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_embeddings_site_ors_masks_and_mixes_token_types(kind):
    model = make_model(kind).eval()
    examples = make_examples(kind, n=4)
    examples[0]["input_ids"], examples[0]["attention_mask"] = [2, 7, 8], [1, 1, 1]
    examples[3]["input_ids"], examples[3]["attention_mask"] = [2] + [9] * 9, [1] * 10
    for e in (examples[0], examples[3]):
        if "token_type_ids" in e:
            e["token_type_ids"] = [0] * (len(e["input_ids"]) - 1) + [1]
    batch = make_collate(pad_id_of(kind))(examples)
    seen = []
    model.register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs), with_kwargs=True)
    strategy = MixupStrategy(mixup("embeddings", pairing="reverse", lam="fixed:0.25", mode="mixed-only"))
    with torch.no_grad():
        out = strategy.mix_forward(model, batch)
    mixed_call = seen[-1]
    mask = batch["attention_mask"]
    assert torch.equal(mixed_call["attention_mask"], torch.maximum(mask, mask.flip(0)))
    T = mask.shape[1]
    assert mixed_call["attention_mask"][0].tolist() == [1] * 10 + [0] * (T - 10)  # 3 tokens OR 10 tokens
    assert "input_ids" not in mixed_call
    emb = model.get_input_embeddings()(batch["input_ids"])
    expected = 0.25 * emb + 0.75 * emb.flip(0)
    if kind == "bert":  # token types mixed with the same λ; the model adds table[tt of row i] back
        table = model.bert.embeddings.token_type_embeddings
        tt = batch["token_type_ids"]
        expected = expected + 0.25 * table(tt) + 0.75 * table(tt.flip(0)) - table(tt)
        assert torch.equal(mixed_call["token_type_ids"], tt)
    else:  # RoBERTa positions follow the OR-ed mask: 2, 3, ... over real tokens, 1 on padding
        pos = mixed_call["position_ids"]
        assert pos[0].tolist() == list(range(2, 12)) + [1] * (T - 10)
        m = mixed_call["attention_mask"]
        assert torch.equal(pos, torch.cumsum(m, 1) * m + 1)
    torch.testing.assert_close(mixed_call["inputs_embeds"], expected)
    assert out.mixed_logits.shape == (4, CLASSES) and torch.isfinite(out.mixed_logits).all()


# ------------------------------------------------------------------ end-to-end tiny runs


def run_steps(model, strategy, batches, epochs=2, lr=5e-3):
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for epoch in range(epochs):
        strategy.on_epoch_start(epoch)
        for batch in batches:
            loss, clean = strategy(model, batch, epoch)
            assert clean.shape == (batch["labels"].shape[0], CLASSES) and not clean.requires_grad
            assert torch.isfinite(loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    return losses


def snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def changed(model, before):
    return {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}


def batches_of(examples, collate, size=8, seed=0):
    order = np.random.default_rng(seed).permutation(len(examples))
    return [collate([examples[i] for i in order[s : s + size]]) for s in range(0, len(order), size)]


@pytest.mark.parametrize("site", ["embeddings", "pooled", "hidden"])
@pytest.mark.parametrize("mode", ["mixed-only", "mixed+original"])
def test_tiny_bert_trains_with_mixup(site, mode):
    model = make_model("bert")
    examples = make_examples("bert")
    batches = batches_of(examples, make_collate(0))
    before = snapshot(model)
    strategy = MixupStrategy(mixup(site, pairing="random", lam="beta:0.4", mode=mode), seed=1)
    losses = run_steps(model, strategy, batches)
    assert all(math.isfinite(v) for v in losses)
    moved = changed(model, before)
    assert "classifier.weight" in moved and "bert.embeddings.word_embeddings.weight" in moved
    assert any(".encoder.layer.0." in n for n in moved)


@pytest.mark.parametrize("kind", ARCHS)
@pytest.mark.parametrize("site", ["embeddings", "pooled", "hidden"])
def test_every_architecture_trains_on_every_site(kind, site):
    model = make_model(kind)
    examples = make_examples(kind, n=8)
    batches = batches_of(examples, make_collate(pad_id_of(kind)))
    before = snapshot(model)
    losses = run_steps(model, MixupStrategy(mixup(site, pairing="same-label", lam="beta:1")), batches, epochs=1)
    assert all(math.isfinite(v) for v in losses)
    moved = changed(model, before)
    assert moved and any(n.startswith(("classifier", "pre_classifier")) for n in moved)
    assert any(n.startswith(model.base_model_prefix + ".") for n in moved)


@pytest.mark.parametrize("site", ["embeddings", "pooled", "hidden"])
def test_bf16_autocast_step(site):
    """The loop runs steps under autocast: mixing must cope with bf16 activations."""
    model = make_model("bert")
    batch = make_collate(0)(make_examples("bert", n=8))
    strategy = MixupStrategy(mixup(site, pairing="random"))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, clean = strategy(model.train(), batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and clean.shape == (8, CLASSES)
    assert model.classifier.weight.grad is not None


def dynamics_for(n):
    """Regions/entropies of a pretend earlier run, one per data row."""
    rng = np.random.default_rng(7)
    regions = np.array(["easy", "ambiguous", "hard", "none"], dtype=object)[np.arange(n) % 4]
    return regions, rng.random(n)


@pytest.mark.parametrize("site", ["embeddings", "pooled", "hidden"])
@pytest.mark.parametrize("pairing", ["td-entropy", "easy-ambiguous"])
def test_dataset_level_pairing_with_drop_hard(site, pairing):
    model = make_model("bert")
    examples = make_examples("bert", n=24)
    collate = make_collate(0)
    regions, entropy = dynamics_for(24)
    labels = np.array([e["labels"] for e in examples])
    strategy = MixupStrategy(
        mixup(site, pairing=pairing, lam="beta:0.4", mode="mixed-only"), train_examples=examples,
        collate=collate, regions=regions, entropy=entropy, drop_hard=True,
    )
    batches = batches_of(examples, collate)
    firsts, seen = [], []
    for batch in batches:
        with torch.no_grad():
            out = strategy.mix_forward(model.eval(), batch)
        first, partner = out.first_index.numpy(), out.partner_index.numpy()
        assert np.all(labels[partner] == labels[first])  # same label -> one-hot soft targets
        assert torch.allclose(out.soft_targets, F.one_hot(torch.as_tensor(labels[first]), CLASSES).float())
        assert not np.any(regions[first] == "hard") and not np.any(regions[partner] == "hard")
        if pairing == "td-entropy":
            assert np.all(regions[partner] == regions[first])
        else:
            ea = np.isin(regions[first], ["easy", "ambiguous"])
            assert np.all(regions[partner][ea] != regions[first][ea])
        assert out.clean_logits.shape == (len(batch["labels"]), CLASSES)
        torch.testing.assert_close(out.clean_logits, stock_logits(model, batch), rtol=1e-5, atol=1e-5)
        firsts += first.tolist()
        seen += batch["index"].tolist()
    kept = [i for i in seen if regions[i] != "hard"]
    assert sorted(firsts) == sorted(kept)  # every kept example used once per epoch, hard ones never
    before = snapshot(model)
    assert all(math.isfinite(v) for v in run_steps(model, strategy, batches, epochs=1))
    assert "classifier.weight" in changed(model, before)


def test_drop_hard_rows_get_no_loss():
    model = make_model("bert")
    examples = make_examples("bert", n=8)
    regions = np.array(["hard"] * 8, dtype=object)
    batch = make_collate(0)(examples)
    for strategy in (
        MixupStrategy(mixup("pooled", pairing="random"), regions=regions, entropy=np.zeros(8), drop_hard=True),
        StandardStrategy(keep=regions != "hard"),
    ):
        loss, clean = strategy(model.train(), batch, 0)
        assert float(loss.detach()) == 0.0 and clean.shape == (8, CLASSES)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.5])
def test_ratio_scales_synthetic_examples_per_epoch(ratio):
    model = make_model("bert").eval()
    examples = make_examples("bert", n=20)
    batches = batches_of(examples, make_collate(0), size=6)
    strategy = MixupStrategy(mixup("pooled", pairing="random", ratio=ratio))
    for epoch in range(2):
        strategy.on_epoch_start(epoch)
        with torch.no_grad():
            total = sum(strategy.mix_forward(model, b).mixed_logits.shape[0] for b in batches)
        assert total == math.floor(ratio * 20)


def test_per_batch_lambda_and_seeded_epochs():
    model = make_model("bert").eval()
    batch = make_collate(0)(make_examples("bert", n=8))
    strategy = MixupStrategy(mixup("pooled", pairing="random", lam="beta:0.4", lam_per="batch"), seed=3)
    with torch.no_grad():
        first = strategy.mix_forward(model, batch)
        assert torch.all(first.lam == first.lam[0])
        strategy.on_epoch_start(0)
        again = strategy.mix_forward(model, batch)
    assert torch.equal(first.lam, again.lam) and torch.equal(first.partner_index, again.partner_index)


def test_start_epoch_runs_the_standard_step_before_it():
    model = make_model("bert").eval()
    batch = make_collate(0)(make_examples("bert", n=8))
    strategy = MixupStrategy(mixup("hidden", pairing="random", start_epoch=1))
    with torch.no_grad():
        loss0, clean0 = strategy(model, batch, 0)
        standard, _ = StandardStrategy()(model, batch, 0)
        loss1, clean1 = strategy(model, batch, 1)
    assert float(loss0) == pytest.approx(float(standard))
    assert float(loss1) != pytest.approx(float(standard))
    torch.testing.assert_close(clean0, clean1)


# ------------------------------------------------------------------ freeze-base


@pytest.mark.parametrize("kind", ARCHS)
def test_freeze_base_trains_only_the_head(kind):
    model = make_model(kind)
    trainable = freeze_base(model)
    heads = {"distilbert": ("pre_classifier.", "classifier.")}.get(kind, ("classifier.",))
    assert trainable and all(n.startswith(heads) for n in trainable)
    examples = make_examples(kind, n=8)
    batches = batches_of(examples, make_collate(pad_id_of(kind)))
    for site in ("embeddings", "hidden", "pooled"):
        before = snapshot(model)
        run_steps(model, MixupStrategy(mixup(site, pairing="reverse")), batches, epochs=1)
        moved = changed(model, before)
        assert moved and moved <= set(trainable)


# ------------------------------------------------------------------ losses


def test_soft_cross_entropy_is_lambda_weighted_two_label_ce():
    logits = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    lam = torch.tensor([0.3, 0.8])
    ya, yb = torch.tensor([0, 2]), torch.tensor([1, 1])
    soft = lam[:, None] * F.one_hot(ya, 3) + (1 - lam[:, None]) * F.one_hot(yb, 3)
    expected = lam * F.cross_entropy(logits, ya, reduction="none") + (1 - lam) * F.cross_entropy(logits, yb, reduction="none")
    torch.testing.assert_close(soft_cross_entropy(logits, soft, reduction="none"), expected)
    torch.testing.assert_close(soft_cross_entropy(logits, ya), F.cross_entropy(logits, ya))


def test_focal_loss_by_hand():
    logits = torch.tensor([[math.log(3.0), 0.0]])  # p = (0.75, 0.25)
    value = focal_loss(logits, torch.tensor([0]), gamma=2.0, alpha=0.25)
    assert float(value) == pytest.approx(0.25 * 0.25**2 * -math.log(0.75), rel=1e-6)
    torch.testing.assert_close(focal_loss(logits, torch.tensor([1]), gamma=0.0, alpha=1.0), F.cross_entropy(logits, torch.tensor([1])))
    soft = torch.tensor([[0.5, 0.5]])
    expected = 0.5 * (0.25**2 * -math.log(0.75)) + 0.5 * (0.75**2 * -math.log(0.25))
    assert float(focal_loss(logits, soft, gamma=2.0)) == pytest.approx(expected, rel=1e-6)


def test_parse_loss():
    assert str(parse_loss(None)) == "ce" and str(parse_loss("ce")) == "ce"
    focal = parse_loss("focal:2,0.25")
    assert (focal.gamma, focal.alpha) == (2.0, 0.25)
    assert parse_loss("focal:1").alpha == 1.0
    for bad in ("focal", "focal:a", "focal:-1", "focal:1,2,3", "mse"):
        with pytest.raises(DatamapError, match="--loss"):
            parse_loss(bad)


def test_tiny_bert_trains_with_focal_loss_and_mixup():
    model = make_model("bert")
    batches = batches_of(make_examples("bert"), make_collate(0))
    before = snapshot(model)
    strategy = build_strategy({"mixup": {"site": "hidden", "lam": "beta-folded:0.4"}, "loss": "focal:2,0.5"})
    assert str(strategy.loss) == "focal:2,0.5"
    assert all(math.isfinite(v) for v in run_steps(model, strategy, batches, epochs=1))
    assert "classifier.weight" in changed(model, before)


# ------------------------------------------------------------------ options and dynamics wiring


def test_build_strategy_options_and_errors():
    assert type(build_strategy({})) is StandardStrategy
    s = build_strategy({"mixup": {"site": "pooled", "pairing": "reverse", "lam": "fixed:0.5", "mode": "mixed-only",
                                  "ratio": 2, "start_epoch": 1}})
    assert (s.site, s.pairing, s.mode, s.ratio, s.start_epoch) == ("pooled", "reverse", "mixed-only", 2.0, 1)
    with pytest.raises(DatamapError, match="--dynamics-from"):
        build_strategy({"mixup": {"site": "pooled", "pairing": "td-entropy"}})
    with pytest.raises(DatamapError, match="--dynamics-from"):
        build_strategy({"drop_hard": True})
    for options, flag in (
        ({"site": "logits"}, "--mixup:"), ({"site": "pooled", "pairing": "x"}, "--mixup-pairing:"),
        ({"site": "pooled", "mode": "x"}, "--mixup-mode:"), ({"site": "pooled", "ratio": 0}, "--mixup-ratio:"),
        ({"site": "pooled", "lam_per": "x"}, "--mixup-lambda-per:"),
        ({"site": "pooled", "lam": "beta:0"}, "--mixup-lambda:"),
    ):
        with pytest.raises(DatamapError, match=flag):
            build_strategy({"mixup": options})


def test_nan_entropy_from_an_earlier_run_names_the_option():
    examples = [{"index": i, "labels": i % 2} for i in range(4)]
    with pytest.raises(DatamapError, match=r"^--dynamics-from: entropy is missing \(NaN\) at row 2$"):
        MixupStrategy(mixup("pooled", pairing="td-entropy"), train_examples=examples, collate=list,
                      regions=np.array(["easy"] * 4, dtype=object), entropy=np.array([0.1, 0.2, np.nan, 0.3]))


def test_load_dynamics_joins_by_id(tmp_path):
    pd.DataFrame({"id": ["c", "a", "b"], "region": ["hard", "easy", "ambiguous"], "entropy": [0.3, 0.1, 0.2],
                  "confidence": [0.1, 0.9, 0.5]}).to_parquet(tmp_path / "metrics.parquet")
    got = load_dynamics(tmp_path, ["a", "b", "c"])
    assert got["region"].tolist() == ["easy", "ambiguous", "hard"] and got["entropy"].tolist() == [0.1, 0.2, 0.3]
    with pytest.raises(DatamapError, match="'zz'"):
        load_dynamics(tmp_path, ["a", "zz"])
    with pytest.raises(DatamapError, match="not found"):
        load_dynamics(tmp_path / "nope", ["a"])
