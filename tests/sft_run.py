"""A hand-made sft run directory (what `datamap train --task sft` writes, without training):
data.parquet (id, prompt, completion), config.yaml (task: sft), dynamics.parquet in the sft
schema and a complete manifest. Imported by the tests of the sft metrics, maps, report, clusters
and selections (not a pytest conftest).

Two families of trajectories over P points: "learned" examples (token loss falls from about 2 to
about 0.05, exact from the middle on) and "stuck" examples (token loss stays near 2.5, never exact).
Example ``s000`` has a completion with HTML in it (``XSS``); with ``xss_point`` one more example,
``xss``, sits alone on the map (token loss 0.7 at every point: confidence ~0.50, variability 0) with
that HTML in its prompt and a long completion (``LONG``: the tooltip truncates it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from datamap.io.rundir import RunDir, file_sha256
from datamap.io.store import SFTDynamics, write_sft_dynamics

XSS = "<script>window.__xss=1</script> & <b>bold</b>"
LONG = XSS + " word" * 150 + " THE-END"
POINTS = 6


def trajectories(n_learned: int, n_stuck: int, points: int = POINTS, seed: int = 0):
    """``(ids, loss_sum, n_tokens, n_correct, family)``: learned rows first, then stuck ones."""
    rng = np.random.default_rng(seed)
    n = n_learned + n_stuck
    tok = rng.integers(3, 12, n)[:, None].repeat(points, axis=1)
    t = np.linspace(0, 1, points)
    learned = 2.0 * np.exp(-4 * t)[None] + rng.uniform(0, 0.05, (n_learned, points))
    stuck = 2.5 + rng.uniform(-0.2, 0.2, (n_stuck, points))
    token_loss = np.concatenate([learned, stuck])
    correct = np.concatenate([
        np.where(t[None] >= 0.5, tok[:n_learned], tok[:n_learned] // 2),
        np.minimum(tok[n_learned:] - 1, rng.integers(0, 3, (n_stuck, points))),
    ])
    ids = np.array([f"s{i:03d}" for i in range(n)], dtype=object)
    family = np.array([0] * n_learned + [1] * n_stuck)
    return ids, token_loss * tok, tok, correct, family


def make_sft_run(root: Path, n_learned: int = 30, n_stuck: int = 20, points: int = POINTS, seed: int = 0,
                 xss_point: bool = False) -> Path:
    """Write the run under ``root`` (created); returns ``root``."""
    ids, loss, tok, cor, _ = trajectories(n_learned, n_stuck, points, seed)
    prompts = [f"question {i}?" for i in range(len(ids))]
    completions = [f"answer {i}" for i in range(len(ids))]
    completions[0] = XSS
    if xss_point:
        ids = np.append(ids, "xss").astype(object)
        loss = np.vstack([loss, np.full((1, points), 0.7 * 4)])
        tok = np.vstack([tok, np.full((1, points), 4)])
        cor = np.vstack([cor, np.full((1, points), 2)])
        prompts.append(XSS)
        completions.append(LONG)
    root.mkdir(parents=True, exist_ok=True)
    run = RunDir(root)
    pd.DataFrame({"id": ids.astype(str), "prompt": prompts, "completion": completions}).to_parquet(run.data, index=False)
    run.config.write_text(yaml.safe_dump({"task": "sft", "model": "tiny-gpt2", "epochs": 3, "record_every": 4}))
    epochs = np.arange(points) * 3 // points
    write_sft_dynamics(run.dynamics, SFTDynamics(ids, loss, tok, cor, epochs, 4 * (np.arange(points) + 1),
                                                 {"kind": "sft", "record": "every", "record_every": 4}))
    run.write_manifest(stage="train", status="complete", epochs=3, epochs_written=3,
                       data_sha256=file_sha256(run.data), config_sha256=file_sha256(run.config))
    return root
