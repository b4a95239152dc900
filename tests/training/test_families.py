"""Every model family through the same code: tiny random models (2 layers, hidden 32) of bert, roberta,
deberta-v2, modernbert, distilbert, electra, gpt2, llama, qwen2 and mistral, with a tokenizer trained here.

Nothing here names a family in the code under test: the head, the mixup sites, freezing, the pad token
and the embedding pooling are all found from the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    DebertaV2Config,
    DistilBertConfig,
    ElectraConfig,
    GPT2Config,
    LlamaConfig,
    MistralConfig,
    ModernBertConfig,
    Qwen2Config,
    RobertaConfig,
)

from conftest import FILL, NEG, POS, make_sentiment_frame
from datamap.errors import DatamapError
from datamap.training.config import MixupConfig
from datamap.training.mixup import MixupStrategy
from datamap.training.models import find_head, freeze_base, load_model, load_tokenizer, set_pad_token
from datamap.training.steps import StandardStep

ENCODERS = ["bert", "roberta", "deberta-v2", "modernbert", "distilbert", "electra"]
DECODERS = ["gpt2", "llama", "qwen2", "mistral"]
FAMILIES = ENCODERS + DECODERS
# decoders: the tokenizer has a pad token but the model config none (llama, qwen2), or neither has one
# (gpt2, mistral: EOS pads)
TOKENIZER_PAD = {"llama", "qwen2"}
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "</s>"]
PAD, CLS, SEP, EOS = 0, 2, 3, 5
SMALL = dict(num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def make_config(kind: str, vocab: int):
    common = dict(vocab_size=vocab, hidden_size=32, max_position_embeddings=64, **SMALL)
    decoder = dict(common, num_key_value_heads=2, bos_token_id=EOS, eos_token_id=EOS, pad_token_id=None)
    if kind == "bert":
        return BertConfig(**common)
    if kind == "roberta":
        return RobertaConfig(**{**common, "max_position_embeddings": 70}, pad_token_id=PAD, type_vocab_size=1)
    if kind == "deberta-v2":
        return DebertaV2Config(**common, pad_token_id=PAD)
    if kind == "modernbert":
        return ModernBertConfig(**common, pad_token_id=PAD, bos_token_id=CLS, eos_token_id=SEP, cls_token_id=CLS,
                                sep_token_id=SEP, global_attn_every_n_layers=1)
    if kind == "distilbert":
        return DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                max_position_embeddings=64, pad_token_id=PAD)
    if kind == "electra":
        return ElectraConfig(**common, embedding_size=16)
    if kind == "gpt2":
        return GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=2, n_positions=64, bos_token_id=EOS,
                          eos_token_id=EOS)
    return {"llama": LlamaConfig, "qwen2": Qwen2Config, "mistral": MistralConfig}[kind](**decoder)


def make_tokenizer(kind: str):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = make_sentiment_frame(200, seed=1)["text"].tolist() + [" ".join(POS + NEG + FILL)] * 3
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=200, special_tokens=SPECIALS))
    if kind in DECODERS:  # no [CLS]: the text, then EOS (what the head reads is the last token)
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", EOS)])
        pad = {"pad_token": "[PAD]"} if kind in TOKENIZER_PAD else {}
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="</s>", **pad)
        fast.model_input_names = ["input_ids", "attention_mask"]
        return fast
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


@pytest.fixture(scope="module")
def family_dir(tmp_path_factory):
    """``family_dir(kind)``: a saved model folder (random weights, seed 0) with its tokenizer."""
    made = {}

    def get(kind: str):
        if kind not in made:
            folder = tmp_path_factory.mktemp(kind)
            tokenizer = make_tokenizer(kind)
            config = make_config(kind, len(tokenizer))
            config.num_labels = 2
            torch.manual_seed(0)
            AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            made[kind] = folder
        return made[kind]

    return get


def loaded(folder, classes: int = 3):
    tokenizer = load_tokenizer(str(folder))
    model = load_model(str(folder), [f"c{i}" for i in range(classes)])
    set_pad_token(model, tokenizer)
    return model, tokenizer


def random_batch(model, n: int = 6, equal_length: bool = False, seed: int = 0) -> dict:
    """Random real-token ids, right-padded with the model's pad id; rows of different lengths unless asked."""
    rng = np.random.default_rng(seed)
    lengths = [8] * n if equal_length else rng.integers(3, 11, size=n).tolist()
    T = max(lengths)
    ids = torch.full((n, T), model.config.pad_token_id, dtype=torch.long)
    mask = torch.zeros((n, T), dtype=torch.long)
    for i, length in enumerate(lengths):
        ids[i, :length] = torch.as_tensor(rng.integers(len(SPECIALS), model.config.vocab_size, size=length))
        mask[i, :length] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.arange(n) % 3, "index": torch.arange(n)}


def stock(model, batch):
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


# ------------------------------------------------------------------ mixup sites, λ and the head


@pytest.mark.parametrize("kind", FAMILIES)
def test_mixup_sites_reach_the_head_and_lambda_one_is_clean(kind, family_dir):
    model, _ = loaded(family_dir(kind))
    model.eval()
    find_head(model)  # found without a list of families
    for site in ("pooled", "hidden", "embeddings"):
        # the embeddings site ORs the masks, so it reproduces the plain model only on equal lengths
        batch = random_batch(model, equal_length=(site == "embeddings"))
        clean = stock(model, batch)
        outs = {}
        for lam in ("1", "0", "0.5"):
            strategy = MixupStrategy(MixupConfig(site=site, pairing="reverse", lam=f"fixed:{lam}", mode="mixed+original"))
            with torch.no_grad():
                outs[lam] = strategy.mix_forward(model, batch)
            torch.testing.assert_close(outs[lam].clean_logits, clean, rtol=1e-4, atol=1e-5, msg=f"{site} clean rows")
        torch.testing.assert_close(outs["1"].mixed_logits, clean, rtol=1e-4, atol=1e-5, msg=f"{site} λ=1")
        torch.testing.assert_close(outs["0"].mixed_logits, clean.flip(0), rtol=1e-4, atol=1e-5, msg=f"{site} λ=0")
        half = outs["0.5"].mixed_logits  # a real mix reached the head: neither member's logits
        assert not torch.allclose(half, clean, atol=1e-4) and not torch.allclose(half, clean.flip(0), atol=1e-4), site
        # and the loss differs from the plain step's
        plain, _ = StandardStep()(model, batch, 0)
        mixed, _ = MixupStrategy(MixupConfig(site=site, pairing="reverse", lam="fixed:0.5"))(model, batch, 0)
        assert abs(float(plain.detach()) - float(mixed.detach())) > 1e-6, site


@pytest.mark.parametrize("kind", FAMILIES)
def test_freeze_base_trains_only_the_head(kind, family_dir):
    model, _ = loaded(family_dir(kind))
    trainable = freeze_base(model)
    head = find_head(model)
    assert trainable and all(n.split(".")[0] in head.modules for n in trainable)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for site in ("embeddings", "hidden", "pooled"):
        loss, _ = MixupStrategy(MixupConfig(site=site, pairing="reverse"))(model, random_batch(model, n=4), 0)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved and moved <= set(trainable)


@pytest.mark.parametrize("kind", FAMILIES)
def test_lora_trains_only_adapters_and_head(kind, family_dir):
    pytest.importorskip("peft")
    from datamap.training.config import LoraSpec
    from datamap.training.lora import apply_lora

    model, _ = loaded(family_dir(kind))
    model = apply_lora(model, LoraSpec(r=2))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for site in ("pooled", "embeddings"):  # mixup through the peft wrapper too
        loss, _ = MixupStrategy(MixupConfig(site=site, pairing="reverse"))(model.train(), random_batch(model, n=4), 0)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any("lora_" in n for n in moved) and any("modules_to_save" in n for n in moved), sorted(moved)
    assert all("lora_" in n or "modules_to_save" in n for n in moved), sorted(moved)


@pytest.mark.slow
@pytest.mark.parametrize("kind", FAMILIES)
def test_dynamics_trainer(kind, family_dir, tmp_path):
    """The one-line Trainer change on every family; decoders get their pad token from the tokenizer (llama,
    qwen2) or EOS (gpt2, mistral) in DynamicsTrainer itself."""
    import datasets
    from transformers import DataCollatorWithPadding, TrainingArguments

    from datamap.hf import DynamicsTrainer
    from datamap.io.store import read_dynamics

    model = load_model(str(family_dir(kind)), ["neg", "pos"])
    tokenizer = load_tokenizer(str(family_dir(kind)))
    frame = make_sentiment_frame(12)[["text", "label"]]
    ds = datasets.Dataset.from_pandas(frame, preserve_index=False)
    ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=32), batched=True)
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=1, per_device_train_batch_size=4,
                             report_to="none", save_strategy="no", disable_tqdm=True, use_cpu=True)
    DynamicsTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer,
                    data_collator=DataCollatorWithPadding(tokenizer)).train()
    dyn = read_dynamics(tmp_path / "datamap" / "dynamics.parquet")
    assert dyn.n_epochs == 1 and len(dyn.ids) == 12 and np.isfinite(dyn.logits).all()


# ------------------------------------------------------------------ the training loop and embed


@pytest.mark.slow
@pytest.mark.parametrize("kind", FAMILIES)
def test_family_trains_records_and_embeds(kind, family_dir, tmp_path):
    from datamap.training.config import TrainConfig
    from datamap.training.embed import embed_frame
    from datamap.training.loop import train

    data = tmp_path / "train.csv"
    frame = make_sentiment_frame(16)
    frame.to_csv(data, index=False)
    common = dict(dataset=str(data), model=str(family_dir(kind)), epochs=1, batch_size=8, eval_split=None,
                  lr=1e-3, checkpoint=False, max_length=32)  # the tiny configs take 64 positions
    runs = {
        "inflight": TrainConfig(**common, out=str(tmp_path / "a"), record="inflight", mixup=MixupConfig(site="hidden")),
        "epoch_end": TrainConfig(**common, out=str(tmp_path / "b"), record="epoch_end", freeze_base=True),
    }
    for mode, cfg in runs.items():
        run = train(cfg, progress=False)
        dyn = pd.read_parquet(run.dynamics)
        assert len(dyn) == 16 and np.isfinite(np.stack(dyn["logits"].to_numpy())).all(), mode
        assert pd.read_parquet(run.data)["label_name"].tolist() == frame["label_name"].tolist()
    vectors, info = embed_frame(frame, str(tmp_path / "a" / "model"), max_length=32, progress=False)
    assert info["pooling"] == ("last" if kind in DECODERS else "mean")
    assert vectors.shape[0] == 16 and len(np.unique(vectors.round(5), axis=0)) == 16  # distinct vectors
    if kind in DECODERS:
        with pytest.raises(DatamapError, match="--pooling cls: .*decoder"):
            embed_frame(frame, str(tmp_path / "a" / "model"), pooling="cls", max_length=32, progress=False)


def test_head_refused_before_any_data_is_read(family_dir, tmp_path, monkeypatch):
    """The head is looked for on a meta-device model built from the config, before any data is read: a
    family without one (simulated: ``find_head`` refuses) stops there, and no weights are loaded either."""
    from datamap.training import loop, models
    from datamap.training.config import TrainConfig

    def never(*args, **kwargs):
        raise AssertionError("read before the check")

    def refuse(model, flag):
        assert all(p.is_meta for p in model.parameters())  # built from the config alone
        raise DatamapError(f"{flag}: no head")

    monkeypatch.setattr(loop, "load_data", never)
    monkeypatch.setattr(loop, "load_model", never)
    monkeypatch.setattr(models, "find_head", refuse)
    for option, flag in ((dict(freeze_base=True), "--freeze-base"), (dict(mixup={"site": "pooled"}), "--mixup")):
        cfg = TrainConfig(dataset="unused.csv", model=str(family_dir("llama")), out=str(tmp_path / "r"), **option)
        with pytest.raises(DatamapError, match=f"{flag}: no head"):
            loop.train(cfg, progress=False)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kind,lora", [("bert", False), ("llama", False), ("bert", True)])
def test_gradient_checkpointing_gives_the_same_gradients(kind, lora, family_dir):
    """Also with LoRA, whose frozen embeddings give the checkpointed layers inputs without grad."""
    from datamap.training.models import enable_gradient_checkpointing

    grads, folder = [], family_dir(kind)
    for checkpointing in (False, True):
        torch.manual_seed(0)  # the same new head (3 classes) and adapters
        model, _ = loaded(folder)
        if lora:
            pytest.importorskip("peft")
            from datamap.training.config import LoraSpec
            from datamap.training.lora import apply_lora

            model = apply_lora(model, LoraSpec(r=2))
        if checkpointing:
            enable_gradient_checkpointing(model)
            assert model.is_gradient_checkpointing
        torch.manual_seed(1)  # the same dropout masks (checkpointing replays the RNG state)
        loss, _ = StandardStep()(model.train(), random_batch(model, n=4), 0)
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6)
