"""A plain Hugging Face Trainer script, as users write it; the tests swap ``Trainer`` for ``DynamicsTrainer``.

Used in-process by tests/training/test_trainer.py and under ``accelerate launch`` by tests/training/dist_worker.py.
"""

from __future__ import annotations

import pandas as pd


def trainer_script(model_dir, frame: pd.DataFrame, output_dir, *, use_datamap=True, record="inflight", epochs=2,
                   batch_size=8, lr=5e-4, no_dropout=False, save_strategy="no", callbacks=(), train_kwargs=None,
                   args_kwargs=None, **datamap_kwargs):
    """Tokenise with ``datasets.map``, pad with ``DataCollatorWithPadding``, train with the Trainer defaults
    (``remove_unused_columns=True``). ``save_strategy``, ``callbacks`` (TrainerCallback instances) and
    ``train_kwargs`` (e.g. ``resume_from_checkpoint``) go to the Trainer, ``args_kwargs`` (e.g. ``torch_compile``)
    to its TrainingArguments. Returns the trainer."""
    import datasets
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    from datamap.hf import DynamicsTrainer

    tok = AutoTokenizer.from_pretrained(model_dir)
    extra = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0) if no_dropout else {}
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1}, **extra
    )
    ds = datasets.Dataset.from_pandas(frame, preserve_index=False)
    ds = ds.map(lambda b: tok(b["text"], truncation=True, max_length=32), batched=True)
    args = TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=16, learning_rate=lr, weight_decay=0.0, warmup_steps=0, lr_scheduler_type="constant",
        seed=3, report_to="none", save_strategy=save_strategy, logging_strategy="no", disable_tqdm=True, use_cpu=True,
        **(args_kwargs or {}),
    )
    # the one-line change: Trainer -> DynamicsTrainer (plus optional recording options)
    if use_datamap:
        trainer = DynamicsTrainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                                  data_collator=DataCollatorWithPadding(tok), record=record, callbacks=list(callbacks),
                                  **datamap_kwargs)
    else:
        trainer = Trainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                          data_collator=DataCollatorWithPadding(tok))
    trainer.train(**(train_kwargs or {}))
    return trainer
