"""Label-error detection benchmark: inject known noise, train, rank, compare methods, retrain.

For each seed: a seeded sample of N training examples of DATASET, labels flipped with
``datamap noise`` (exact count), then

- one ordinary run: scores of low confidence, AUM, EL2N, forgetfulness, their rank mean, class-normalised
  confidence and cleanlab on the in-sample epoch-averaged probabilities (1 training);
- a run with ``--threshold-samples`` (1 training): AUM over the examples that kept their label, and the
  threshold-sample cut;
- ``datamap crossval --folds K`` and cleanlab on the out-of-sample probabilities (K trainings);
- retraining after dropping the flagged examples of the ordinary run (negative-AUM cut) vs after dropping
  a random set of the same size vs the noisy run itself (2 trainings; accuracy on DATASET's evaluation split).

Prints AUROC, average precision and precision@k (k = number flipped) of every method, the trainings
each needed, and the retraining accuracies; writes OUT/results.json. Example (CPU-sized)::

    DATAMAP_DATA_DIR=../shared/data python benchmarks/bench_label_errors.py --dataset sst2 --n 1000 \\
        --rate 0.1 --kind uniform --seeds 0 --epochs 3 --folds 5 --out runs/bench-errors
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.label_errors import auroc, average_precision, precision_at_k
from datamap.io.data import load_dataset
from datamap.stages.crossval import crossval
from datamap.stages.errors import find_errors
from datamap.stages.noise import make_noisy
from datamap.training.config import TrainConfig
from datamap.training.loop import train


def measures(score: np.ndarray, truth: np.ndarray) -> dict:
    return {"auroc": auroc(score, truth), "ap": average_precision(score, truth), "p_at_k": precision_at_k(score, truth)}


def accuracy(run_root: Path) -> float | None:
    files = sorted((run_root / "eval").glob("*.json"))
    return json.loads(files[0].read_text())["accuracy"] if files else None


def one_seed(args, seed: int, root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    frame, names, _ = load_dataset(args.dataset, args.split)
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=min(args.n, len(frame)), replace=False))
    frame.iloc[rows].to_parquet(root / "clean.parquet", index=False)
    if args.eval_split and args.eval_split == args.split:
        # one split only (AG News ships its test split alone): evaluate on a seeded sample of the rows
        # that were not drawn for training, so retraining is never scored on its own examples
        rest = np.setdiff1d(np.arange(len(frame)), rows)
        held = np.sort(np.random.default_rng(seed + 1).choice(rest, size=min(args.eval_n, len(rest)), replace=False))
        frame.iloc[held].to_parquet(root / "heldout.parquet", index=False)
        eval_sets = [str(root / "heldout.parquet")]
    else:
        eval_sets = [f"{args.dataset}:{args.eval_split}"] if args.eval_split else []
    noise = make_noisy(str(root / "clean.parquet"), root / "noisy.parquet", kind=args.kind, rate=args.rate, seed=seed,
                       overwrite=True)
    flipped = set(pd.read_parquet(noise.flipped_path)["id"])
    base = dict(dataset=str(root / "noisy.parquet"), model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                lr=args.lr, max_length=args.max_length, seed=seed, eval_split=None, save_model=False,
                checkpoint=False, overwrite=True,
                eval_datasets=eval_sets)
    out = {"seed": seed, "n": len(rows), "n_flipped": len(flipped), "methods": {}, "seconds": {}}

    t = time.perf_counter()
    single = train(TrainConfig(**base, out=str(root / "single")), progress=False)
    out["seconds"]["single"] = time.perf_counter() - t
    table = find_errors(single.root, cut="aum0", overwrite=True).table  # the negative-AUM cut its figures were made with
    truth = table["id"].isin(flipped).to_numpy()
    flags_neg_aum = set(table["id"][table["flag"]])
    for m in ("confidence", "aum", "el2n", "forgetfulness", "rank_mean", "class_confidence"):
        out["methods"][m] = {**measures(table[f"score_{m}"].to_numpy(), truth), "trainings": 1}
    out["methods"]["aum"].update(flag_precision=float(truth[table["flag"]].mean()) if table["flag"].any() else None,
                                 flag_recall=float(table["flag"][truth].mean()), n_flagged=int(table["flag"].sum()))
    if not args.no_cleanlab:
        t_cl = find_errors(single.root, method="cleanlab", overwrite=True).table
        tr = t_cl["id"].isin(flipped).to_numpy()
        out["methods"]["cleanlab_in_sample"] = {**measures(t_cl["score_cleanlab"].to_numpy(), tr), "trainings": 1,
                                                "n_flagged": int(t_cl["flag"].sum())}
    out["noisy_accuracy"] = accuracy(single.root)

    if not args.no_threshold:
        t = time.perf_counter()
        thr = train(TrainConfig(**base, out=str(root / "threshold"), threshold_samples=True), progress=False)
        out["seconds"]["threshold"] = time.perf_counter() - t
        tt = find_errors(thr.root, overwrite=True).table
        tt = tt[~tt["threshold_sample"]]
        tr = tt["id"].isin(flipped).to_numpy()
        out["methods"]["aum_threshold_run"] = {
            **measures(tt["score_aum"].to_numpy(), tr), "trainings": 1, "n_flagged": int(tt["flag"].sum()),
            "flag_precision": float(tr[tt["flag"].to_numpy()].mean()) if tt["flag"].any() else None,
            "flag_recall": float(tt["flag"].to_numpy()[tr].mean()) if tr.any() else None,
            "n_ranked": len(tt), "n_flipped_ranked": int(tr.sum())}

    if args.folds and not args.no_cleanlab:
        t = time.perf_counter()
        cv = crossval({**base, "out": str(root / "cv")}, root / "cv", folds=args.folds, seed=seed, overwrite=True,
                      progress=False)
        out["seconds"]["crossval"] = time.perf_counter() - t
        t_oof = find_errors(single.root, method="cleanlab", probs=cv.oof_path, overwrite=True).table
        tr = t_oof["id"].isin(flipped).to_numpy()
        out["methods"][f"cleanlab_{args.folds}fold"] = {**measures(t_oof["score_cleanlab"].to_numpy(), tr),
                                                        "trainings": args.folds, "n_flagged": int(t_oof["flag"].sum())}

    if not args.no_retrain and args.eval_split:
        ids = table["id"].astype(str).to_numpy()
        keep = sorted(set(ids) - flags_neg_aum)
        rng = np.random.default_rng(seed + 1000)
        keep_random = sorted(set(ids) - set(rng.choice(ids, size=len(flags_neg_aum), replace=False)))
        for name, subset in (("drop_flagged", keep), ("drop_random", keep_random)):
            sel = root / f"{name}.json"
            sel.write_text(json.dumps({"ids": subset}))
            t = time.perf_counter()
            run = train(TrainConfig(**base, out=str(root / name), subset=str(sel.resolve())), progress=False)
            out["seconds"][name] = time.perf_counter() - t
            out[f"{name}_accuracy"] = accuracy(run.root)
        out["n_dropped"] = len(flags_neg_aum)
        out["dropped_flipped"] = len(flags_neg_aum & flipped)
    return out


def summarise(results: list[dict]) -> None:
    methods = list(results[0]["methods"])
    print(f"\n{'method':<22} {'trainings':>9} {'AUROC':>14} {'AP':>14} {'P@k':>14}")
    for m in methods:
        vals = {k: np.array([r["methods"][m][k] for r in results if m in r["methods"]]) for k in ("auroc", "ap", "p_at_k")}
        cells = [f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}" for v in vals.values()]
        print(f"{m:<22} {results[0]['methods'][m]['trainings']:>9} " + " ".join(f"{c:>14}" for c in cells))
    for key in ("noisy_accuracy", "drop_flagged_accuracy", "drop_random_accuracy"):
        vals = [r[key] for r in results if r.get(key) is not None]
        if vals:
            print(f"{key:<22} {np.mean(vals):.4f}" + (f" ± {np.std(vals):.4f}" if len(vals) > 1 else "") + f"  (n={len(vals)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="sst2")
    p.add_argument("--split", default="train")
    p.add_argument("--eval-split", default="validation", help="evaluation split of DATASET for retraining ('' to skip)")
    p.add_argument("--eval-n", type=int, default=2000,
                   help="when --eval-split equals --split: size of the held-out sample drawn from the rows not trained on")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--kind", default="uniform", choices=["uniform", "pairs"])
    p.add_argument("--rate", type=float, default=0.1)
    p.add_argument("--seeds", default="0", help="comma-separated")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--folds", type=int, default=5, help="crossval folds for cleanlab (0: skip)")
    p.add_argument("--model", default="minilm")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--no-threshold", action="store_true")
    p.add_argument("--no-cleanlab", action="store_true")
    p.add_argument("--no-retrain", action="store_true")
    p.add_argument("--out", default="runs/bench-errors")
    args = p.parse_args()
    t0 = time.perf_counter()
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        res = one_seed(args, seed, Path(args.out) / f"seed{seed}")
        results.append(res)
        Path(args.out, "results.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
        print(json.dumps(res))
    print(f"\n{args.dataset}: n={args.n}, {args.kind} {args.rate:g}, seeds {args.seeds}, epochs {args.epochs}, "
          f"model {args.model}, wall {time.perf_counter() - t0:.0f} s")
    summarise(results)


if __name__ == "__main__":
    main()
