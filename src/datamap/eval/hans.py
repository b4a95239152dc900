"""HANS scoring (McCoy, Pavlick & Linzen 2019): accuracy per heuristic, gold label and subcase.

HANS has two labels, ``entailment`` and ``non-entailment``. A three-way NLI model (MNLI/SNLI:
entailment, neutral, contradiction) is scored by taking its argmax class and collapsing
``neutral`` and ``contradiction`` to ``non-entailment``, as McCoy et al. do. Labels are matched
by NAME (case-insensitive, surrounding spaces ignored), never by position, because models order
their classes differently.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from datamap.errors import DatamapError

ENTAILMENT = "entailment"
NON_ENTAILMENT = "non-entailment"
HEURISTICS = ("lexical_overlap", "subsequence", "constituent")

#: model / dataset label names and what they mean on HANS
LABEL_ALIASES = {
    "entailment": ENTAILMENT,
    "non-entailment": NON_ENTAILMENT,
    "non_entailment": NON_ENTAILMENT,
    "not_entailment": NON_ENTAILMENT,
    "not-entailment": NON_ENTAILMENT,
    "neutral": NON_ENTAILMENT,
    "contradiction": NON_ENTAILMENT,
}


def collapse_label(name: str, what: str = "label") -> str:
    """``"entailment"`` or ``"non-entailment"`` for a label name (see :data:`LABEL_ALIASES`).

    Unknown names raise :class:`DatamapError` naming the label.
    """
    key = str(name).strip().lower()
    if key not in LABEL_ALIASES:
        raise DatamapError(
            f"{what} {name!r} has no HANS meaning (known: {', '.join(sorted(LABEL_ALIASES))})"
        )
    return LABEL_ALIASES[key]


def check_model_labels(model_label_names: Sequence[str]) -> list[str]:
    """Collapsed HANS label of each model class, in class-id order.

    Raises :class:`DatamapError` if the names do not include ``entailment`` (the model was not
    trained for NLI) or if a name has no HANS meaning.
    """
    names = [str(n).strip().lower() for n in model_label_names]
    if ENTAILMENT not in names:
        raise DatamapError(
            f"model label names {list(model_label_names)} do not contain 'entailment': HANS needs an NLI model"
        )
    return [collapse_label(n, "model label") for n in model_label_names]


def hans_predictions(logits: Any, model_label_names: Sequence[str]) -> list[str]:
    """Collapsed HANS predictions from a model's logits: argmax class, then its HANS label.

    Parameters
    ----------
    logits : array, shape (n, k)
        Model outputs (logits or probabilities; only the argmax is used, first class on ties).
    model_label_names : sequence of str, length k
        The model's class names in id order (must include ``entailment``).
    """
    collapsed = check_model_labels(model_label_names)
    x = np.asarray(logits)
    if x.ndim != 2 or x.shape[1] != len(collapsed):
        raise DatamapError(f"logits shape {x.shape} does not match {len(collapsed)} model labels")
    return [collapsed[i] for i in x.argmax(axis=1)]


def _acc(correct: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    n = int(mask.sum())
    return {"accuracy": float(correct[mask].mean()) if n else None, "n": n}


def hans_scores(
    pred_label_names: Sequence[str],
    gold_label_names: Sequence[str],
    heuristic: Sequence[str],
    subcase: Sequence[str] | None = None,
    model_label_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy on HANS, overall and broken down as McCoy et al. report it.

    Parameters
    ----------
    pred_label_names : sequence of str, length n
        Predicted label names; ``entailment`` stays, ``neutral``, ``contradiction`` and
        ``non-entailment`` (and ``not_entailment``...) count as non-entailment.
    gold_label_names : sequence of str, length n
        HANS gold labels (``entailment`` / ``non-entailment``).
    heuristic : sequence of str, length n
        ``lexical_overlap``, ``subsequence`` or ``constituent`` per example (other values are
        scored too, under their own name).
    subcase : sequence of str or None, default None
        HANS subcase per example (e.g. ``ln_subject/object_swap``); ``None`` skips ``subcases``.
    model_label_names : sequence of str or None, default None
        When given, the model's class names are checked with :func:`check_model_labels`
        (a model without an ``entailment`` class raises :class:`DatamapError`).

    Returns
    -------
    dict
        ``accuracy`` and ``n`` over all examples; ``by_gold`` = ``{label: {accuracy, n}}``;
        ``heuristics`` = ``{heuristic: {"entailment": {accuracy, n}, "non-entailment": {...},
        "all": {...}}}``; ``subcases`` = ``{subcase: {heuristic, gold, accuracy, n}}`` (``gold``
        is ``"mixed"`` if a subcase holds both labels). An empty group has accuracy ``None``.
    """
    if model_label_names is not None:
        check_model_labels(model_label_names)
    n = len(gold_label_names)
    if len(pred_label_names) != n or len(heuristic) != n or (subcase is not None and len(subcase) != n):
        raise DatamapError(
            f"HANS columns differ in length: {len(pred_label_names)} predictions, {n} gold labels,"
            f" {len(heuristic)} heuristics" + (f", {len(subcase)} subcases" if subcase is not None else "")
        )
    if n == 0:
        raise DatamapError("no HANS examples to score")
    pred = np.array([collapse_label(x, "predicted label") for x in pred_label_names], dtype=object)
    gold = np.array([collapse_label(x, "gold label") for x in gold_label_names], dtype=object)
    heur = np.asarray([str(h) for h in heuristic], dtype=object)
    correct = (pred == gold).astype(np.float64)

    everything = np.ones(n, dtype=bool)
    out: dict[str, Any] = {**_acc(correct, everything)}
    out["by_gold"] = {g: _acc(correct, gold == g) for g in (ENTAILMENT, NON_ENTAILMENT)}
    names = list(HEURISTICS) + sorted(set(heur) - set(HEURISTICS))
    out["heuristics"] = {}
    for h in names:
        hm = heur == h
        out["heuristics"][h] = {
            ENTAILMENT: _acc(correct, hm & (gold == ENTAILMENT)),
            NON_ENTAILMENT: _acc(correct, hm & (gold == NON_ENTAILMENT)),
            "all": _acc(correct, hm),
        }
    if subcase is not None:
        sub = np.asarray([str(s) for s in subcase], dtype=object)
        out["subcases"] = {}
        for s in sorted(set(sub)):
            sm = sub == s
            golds = set(gold[sm])
            heurs = sorted(set(heur[sm]))
            out["subcases"][s] = {
                "heuristic": heurs[0] if len(heurs) == 1 else "mixed",
                "gold": golds.pop() if len(golds) == 1 else "mixed",
                **_acc(correct, sm),
            }
    return out
