"""The plan of an experiment and its resumable execution (``datamap run``).

:func:`plan` turns a validated :class:`~datamap.experiment.config.ExperimentConfig` into stages, in
the order they run; each stage calls one stage function (``training.loop.train``,
``stages.measure.measure_run``, ``stages.select.select_run``, ``stages.evaluate.evaluate`` ...), never
the command line, and writes an ordinary run directory under the experiment folder::

    OUT/experiment.yaml               the resolved config (overrides applied, defaults filled in)
    OUT/evalsets/NAME.parquet         evaluation sets drawn with a limit
    OUT/seed{S}/cartography/          train (+ dynamics) -> metrics -> map.png/map.html [-> embeddings, clusters]
                    selections/NAME.json   one per selection variant
                    label_issues.parquet, relabeled.parquet, weights.parquet   the errors section's stage
    OUT/seed{S}/RUN/                  a retraining run (train --subset), its eval/SET.json
    OUT/seed{S}/ENSEMBLE/             eval/SET.json of an ensemble of runs

Resume. Each run directory keeps ``stages.json``: for every stage that wrote into it, the hash
(``key``) of the stage's resolved parameters and of the tokens of the stages it reads, its
``status`` (``running`` from its start, ``complete`` at its end) and a fresh ``token``. A stage is
skipped when it is complete with the same key; otherwise its outputs are cleared (a training run's
folder is removed) and it runs again. Redoing a stage gives it a new token, so every stage that
reads it runs again too. Killing ``datamap run`` at any point and running it again therefore gives
the results of an uninterrupted run. A stage whose output files are gone (or whose training run's
manifest is not complete, :meth:`~datamap.io.rundir.RunDir.require_complete`) is redone as well.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from datamap.errors import DatamapError
from datamap.experiment.config import ExperimentConfig, run_names, train_config, variants
from datamap.io import atomic
from datamap.io.rundir import STAGES_FILE, read_stage_markers, write_stage_marker

log = logging.getLogger(__name__)

MARKERS = STAGES_FILE
KINDS = ("evalset", "cartography", "metrics", "clusters", "errors", "select", "train", "evaluate", "ensemble")
#: files the errors stage writes into the cartography run (``act: relabel`` / ``act: down_weight`` train on them)
RELABELED, WEIGHTS = "relabeled.parquet", "weights.parquet"


@dataclass
class Stage:
    """One step of the plan: what it runs, where it writes, what it reads."""

    id: str
    kind: str
    run: Path  # the folder whose stages.json records it
    params: dict
    after: list[str] = field(default_factory=list)
    action: Callable[[], None] | None = None
    clean: Callable[[], None] | None = None
    outputs: list[Path] = field(default_factory=list)  # files it writes: a stage whose outputs are gone is redone

    def intact(self) -> bool:
        """Its outputs exist and, for a training run, the run's manifest says complete (``require_complete``)."""
        if not all(p.exists() for p in self.outputs):
            return False
        if self.kind in ("cartography", "train", "metrics"):
            from datamap.io.rundir import RunDir

            rd = RunDir(self.run)
            try:
                if rd.read_manifest() is None:
                    return False
                rd.require_complete(metrics=self.kind == "metrics")
            except DatamapError:
                return False
        return True


@dataclass
class RunInfo:
    """A run whose evaluations go into the results table."""

    seed: int
    name: str
    experiment: str
    selection: str | None
    path: Path


@dataclass
class Plan:
    out: Path
    stages: list[Stage]
    runs: list[RunInfo]
    config: ExperimentConfig

    def stage(self, sid: str) -> Stage:
        return self._by_id[sid]

    def __post_init__(self) -> None:
        self._by_id = {s.id: s for s in self.stages}


def experiment_dir(cfg: ExperimentConfig, config_path: "str | Path") -> Path:
    """``out`` of the config, else ``runs/<name or the file's stem>``."""
    return Path(cfg.out) if cfg.out else Path("runs") / (cfg.name or Path(config_path).stem)


# ------------------------------------------------------------------ markers


read_markers = read_stage_markers  # FOLDER/stages.json, owned by io.rundir
write_marker = write_stage_marker


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class State:
    """What is done: markers read once per folder, kept up to date as stages run."""

    def __init__(self, plan: Plan, force: set[str] | None = None):
        self.plan = plan
        self.force = set(force or ())  # to redo: not done until they have run again
        self._markers: dict[Path, dict] = {}
        self._done: dict[str, bool] = {}  # memo (intact() hashes files): cleared whenever a marker changes

    def marker(self, stage: Stage) -> dict | None:
        if stage.run not in self._markers:
            self._markers[stage.run] = read_markers(stage.run)
        entry = self._markers[stage.run].get(stage.id)
        return entry if isinstance(entry, dict) else None

    def key(self, stage: Stage) -> str | None:
        """The stage's key, or None while a stage it reads is not complete."""
        tokens = []
        for up in stage.after:
            m = self.marker(self.plan.stage(up))
            if not self.done(self.plan.stage(up)):
                return None
            tokens.append(m["token"])
        return _hash({"kind": stage.kind, "params": stage.params, "after": tokens})

    def done(self, stage: Stage) -> bool:
        if stage.id in self.force:
            return False
        if stage.id not in self._done:
            m = self.marker(stage)
            self._done[stage.id] = (bool(m) and m.get("status") == "complete" and m.get("key") == self.key(stage)
                                    and stage.intact())
        return self._done[stage.id]

    def why(self, stage: Stage) -> str:
        """``done``, ``new``, ``interrupted``, ``changed``, ``missing`` (outputs gone) or ``pending``
        (a stage it reads is not done)."""
        if stage.id in self.force:
            return "forced"
        for up in stage.after:
            if not self.done(self.plan.stage(up)):
                m = self.marker(stage)
                return "interrupted" if m and m.get("status") != "complete" else "pending"
        m = self.marker(stage)
        if m is None:
            return "new"
        if m.get("status") != "complete":
            return "interrupted"
        if m.get("key") != self.key(stage):
            return "changed"
        return "done" if stage.intact() else "missing"

    def set(self, stage: Stage, entry: dict | None) -> None:
        write_marker(stage.run, stage.id, entry)
        self._markers.pop(stage.run, None)
        self._done.clear()
        if stage.kind in ("cartography", "train"):  # a cleared run folder took its other markers along
            self._markers.clear()


# ------------------------------------------------------------------ the plan


def plan(cfg: ExperimentConfig, out: "str | Path") -> Plan:
    """Every stage of the experiment, in the order they run (see the module docstring)."""
    out = Path(out)
    stages: list[Stage] = []
    runs: list[RunInfo] = []
    evalsets: dict[str, tuple[str, str, dict, str | None]] = {}  # name -> (dataset, split, columns, stage id)
    for ev in cfg.evaluation:
        columns = {k: getattr(ev, k) for k in ("text_column", "text_pair_column", "label_column")}
        columns = {k: v if v is not None else getattr(cfg.data, k) for k, v in columns.items()}
        dataset = ev.dataset or cfg.data.dataset
        if ev.limit is None:
            evalsets[ev.name] = (dataset, ev.split, columns, None)
            continue
        target = out / "evalsets" / f"{ev.name}.parquet"
        sid = f"evalsets/{ev.name}"
        stages.append(Stage(sid, "evalset", out / "evalsets",
                            {"dataset": dataset, "split": ev.split, "limit": ev.limit, "seed": ev.limit_seed},
                            action=_sample_action(dataset, ev.split, ev.limit, ev.limit_seed, target), outputs=[target]))
        evalsets[ev.name] = (str(target), "validation", columns, sid)

    def evaluate_stages(seed_dir: Path, run_name: str, after: str, tc) -> None:
        """Score run ``run_name`` (trained with ``tc``) on every evaluation set, with its own max_length."""
        run = seed_dir / run_name
        for name, (dataset, split, columns, set_stage) in evalsets.items():
            if tc.task == "sft":  # train scored it on its own evaluation set (eval_split): check that it did
                stages.append(Stage(f"{seed_dir.name}/{run_name}/eval/{name}", "evaluate", run, {"written_by": "train"},
                                    [after], action=_sft_eval_check(run, name),
                                    outputs=[run / "eval" / f"{name}.json", run / "eval" / f"{name}.parquet"]))
                continue
            params = {"dataset": dataset, "split": split, "columns": columns,
                      "max_length": tc.max_length, "batch_size": tc.eval_batch_size}
            stages.append(Stage(f"{seed_dir.name}/{run_name}/eval/{name}", "evaluate", run, params,
                                [after] + ([set_stage] if set_stage else []),
                                action=_evaluate_action(run, name, params),
                                outputs=[run / "eval" / f"{name}.json", run / "eval" / f"{name}.parquet"]))

    names = run_names(cfg)
    for seed in cfg.seeds:
        sd = out / f"seed{seed}"
        carto = sd / "cartography"
        cid = f"{sd.name}/cartography"
        tc = train_config(cfg, seed=seed, out=str(carto), overrides=cfg.cartography.train)
        stages.append(Stage(cid, "cartography", carto, {"train": tc.model_dump(mode="json")},
                            action=_train_action(tc), clean=_remove(carto), outputs=[carto / "config.yaml"]))
        mid = f"{cid}/metrics"
        stages.append(Stage(mid, "metrics", carto, {**cfg.cartography.metrics.model_dump(), "maps": cfg.cartography.maps},
                            [cid], action=_metrics_action(carto, cfg),
                            outputs=[carto / "metrics.parquet"] + [carto / f"map.{kind}" for kind in cfg.cartography.maps]))
        clid = None
        if cfg.cartography.clusters is not None:
            clid = f"{cid}/clusters"
            cl = cfg.cartography.clusters.model_dump()
            stages.append(Stage(clid, "clusters", carto, {**cl, "seed": seed}, [cid],
                                action=_clusters_action(carto, cl, seed, tc.max_length),
                                outputs=([carto / "embeddings.parquet"] if cl["on"] == "embeddings" else [])
                                + [carto / "clusters.parquet"]))
        if cfg.cartography.evaluate:
            evaluate_stages(sd, "cartography", cid, tc)
            runs.append(RunInfo(seed, "cartography", "cartography", None, carto))

        eid = None
        if cfg.errors is not None:  # datamap errors, relabel, weights on the cartography run
            eid = f"{cid}/errors"
            stages.append(Stage(eid, "errors", carto, cfg.errors.model_dump(), [cid], action=_errors_action(carto, cfg.errors),
                                outputs=[carto / "label_issues.parquet", carto / RELABELED, carto / WEIGHTS]))
        select_ids: dict[str, str] = {}
        for sname, spec in cfg.selections.items():
            if spec.random_like is not None:
                continue
            for vname, recipe, _ in variants(sname, spec):
                sid = f"{sd.name}/select/{vname}"
                sseed = spec.seed if spec.seed is not None else seed
                after = [mid] + ([clid] if recipe.cluster is not None else []) + ([eid] if spec.drop_errors else [])
                stages.append(Stage(sid, "select", carto, {"recipe": recipe.to_dict(), "seed": sseed,
                                                           **({"drop_errors": True} if spec.drop_errors else {})}, after,
                                    action=_select_action(carto, vname, recipe, sseed, recipe.cluster is not None,
                                                          spec.drop_errors),
                                    outputs=[carto / "selections" / f"{vname}.json"]))
                select_ids[vname] = sid
        for sname, spec in cfg.selections.items():
            if spec.random_like is None:
                continue
            target = spec.random_like
            sseed = spec.seed if spec.seed is not None else seed
            for tname, _, _ in variants(target, cfg.selections[target]):
                vname = sname + tname[len(target):]
                sid = f"{sd.name}/select/{vname}"
                stages.append(Stage(sid, "select", carto, {"random_like": tname, "seed": sseed},
                                    [mid, select_ids[tname]], action=_random_like_action(carto, vname, tname, sseed),
                                    outputs=[carto / "selections" / f"{vname}.json"]))
                select_ids[vname] = sid

        train_ids: dict[str, str] = {"cartography": cid}
        train_cfgs = {"cartography": tc}
        for run_name, (exp_name, sel) in names.items():
            exp = next(e for e in cfg.experiments if e.name == exp_name)
            run = sd / run_name
            subset = str((carto / "selections" / f"{sel}.json").resolve()) if sel else None
            dataset = str((carto / RELABELED).resolve()) if exp.act == "relabel" else exp.dataset
            overrides = {**exp.train, "weights": str((carto / WEIGHTS).resolve())} if exp.act == "down_weight" else exp.train
            tc = train_config(cfg, seed=seed, out=str(run), overrides=overrides, subset=subset,
                              cartography=str(carto), dataset=dataset, own_columns=exp.act == "relabel")
            params = tc.model_dump(mode="json")
            params["subset"] = sel  # the key names the selection, not this machine's path
            for key in ("dynamics_from", "steps_like"):
                if getattr(tc, key):
                    params[key] = "cartography"
            if exp.act is not None:  # the files of the errors stage, not this machine's paths
                params.update(act=exp.act, dataset=None if exp.act == "relabel" else params["dataset"],
                              weights=None)
            after = ([select_ids[sel]] if sel else []) + ([mid] if tc.dynamics_from else [])
            after += ([cid] if tc.steps_like else []) + ([eid] if exp.act else [])
            rid = f"{sd.name}/{run_name}"
            stages.append(Stage(rid, "train", run, params, after, action=_train_action(tc), clean=_remove(run),
                                outputs=[run / "config.yaml"]))
            train_ids[run_name] = rid
            train_cfgs[run_name] = tc
            evaluate_stages(sd, run_name, rid, tc)
            runs.append(RunInfo(seed, run_name, exp_name, sel, run))

        for ens in cfg.ensemble:
            run = sd / ens.name
            members = [str(sd / m) for m in ens.members]
            first = train_cfgs[ens.members[0]]  # one tokenisation for all members: the first member's
            for name, (dataset, split, columns, set_stage) in evalsets.items():
                params = {"members": ens.members, "weights": ens.weights, "dataset": dataset, "split": split,
                          "columns": columns, "max_length": first.max_length, "batch_size": first.eval_batch_size}
                stages.append(Stage(f"{sd.name}/{ens.name}/eval/{name}", "ensemble", run, params,
                                    [train_ids[m] for m in ens.members] + ([set_stage] if set_stage else []),
                                    action=_ensemble_action(members, ens.weights, run, name, params),
                                    outputs=[run / "eval" / f"{name}.json", run / "ensemble.json"]))
            runs.append(RunInfo(seed, ens.name, ens.name, None, run))
    return Plan(out, stages, runs, cfg)


# ------------------------------------------------------------------ actions (each calls one stage function)


def _remove(folder: Path) -> Callable[[], None]:
    def clean() -> None:
        if folder.exists():
            shutil.rmtree(folder)
    return clean


def _train_action(tc) -> Callable[[], None]:
    def run() -> None:
        from datamap.training.loop import train

        train(tc, progress=False)
    return run


def _metrics_action(carto: Path, cfg: ExperimentConfig) -> Callable[[], None]:
    def run() -> None:
        from datamap.stages.measure import measure_run

        m = cfg.cartography.metrics
        measure_run(carto, burn_out=m.burn_out, fraction=m.fraction, entropy_epoch=m.entropy_epoch)
        if "png" in cfg.cartography.maps:
            from datamap.views.static import write_map_png

            write_map_png(carto, overwrite=True)
        if "html" in cfg.cartography.maps:
            from datamap.views.interactive import write_html_map

            write_html_map(carto, overwrite=True)
    return run


def _clusters_action(carto: Path, cl: dict, seed: int, max_length: int) -> Callable[[], None]:
    def run() -> None:
        from datamap.stages.cluster import cluster_file, cluster_trajectories
        from datamap.stages.embed import embed

        options = {"method": cl["method"], "normalize": cl["normalize"], "seed": seed}
        if cl["k"] is not None:
            options["k"] = cl["k"]
        if cl["on"] == "trajectories":
            cluster_trajectories(carto, overwrite=True, standardize=cl["standardize"], **options)
            return
        path, _, _ = embed(str(carto), model=cl["model"], pooling=cl["pooling"], max_length=max_length,
                           overwrite=True, progress=False)
        cluster_file(path, overwrite=True, **options)
    return run


def _select_action(carto: Path, name: str, recipe, seed: int, clusters: bool, drop_errors: bool = False) -> Callable[[], None]:
    def run() -> None:
        from datamap.stages.select import select_run

        select_run(carto, name, recipe, seed=seed, overwrite=True,
                   clusters=carto / "clusters.parquet" if clusters else None, drop_errors=drop_errors)
    return run


def _errors_action(carto: Path, spec) -> Callable[[], None]:
    def run() -> None:
        from datamap.stages.actions import relabel_run, weights_run
        from datamap.stages.errors import find_errors

        find_errors(carto, method=spec.method, cut=spec.cut, percentile=spec.percentile,
                    max_class_share=spec.max_class_share, force_flag=spec.force_flag, overwrite=True)
        relabel_run(carto, carto / RELABELED, overwrite=True)
        weights_run(carto, carto / WEIGHTS, flagged_weight=spec.flagged_weight, overwrite=True)
    return run


def _random_like_action(carto: Path, name: str, target: str, seed: int) -> Callable[[], None]:
    def run() -> None:
        from datamap.core.selection import Recipe
        from datamap.stages.select import select_run

        chosen = json.loads((carto / "selections" / f"{target}.json").read_text(encoding="utf-8"))
        n, k = int(chosen["sizes"]["dataset"]), len(chosen["ids"])
        saved = select_run(carto, name, Recipe(random=k / n), seed=seed, overwrite=True)
        if len(saved[0].result) != k:  # floor(k / n * n) is k up to the core's tolerance
            raise DatamapError(f"{name}: drew {len(saved[0].result)} examples, not the {k} of {target}")
    return run


def _evaluate_action(run: Path, name: str, params: dict) -> Callable[[], None]:
    def go() -> None:
        from datamap.stages.evaluate import evaluate

        evaluate(str(run), params["dataset"], params["split"], name=name, batch_size=params["batch_size"],
                 max_length=params["max_length"], columns=params["columns"], overwrite=True)
    return go


def _sft_eval_check(run: Path, name: str) -> Callable[[], None]:
    def go() -> None:
        if not (run / "eval" / f"{name}.json").exists():
            found = sorted(p.stem for p in (run / "eval").glob("*.json"))
            raise DatamapError(f"{run}: an sft run is scored by train on its own evaluation set, and it wrote no "
                               f"eval/{name}.json (it wrote: {', '.join(found) or 'none'}); name that set in evaluation")
    return go


def _ensemble_action(members: list[str], weights, run: Path, name: str, params: dict) -> Callable[[], None]:
    def go() -> None:
        from datamap.stages.evaluate import ensemble

        ensemble(members, weights, params["dataset"], params["split"], out=run, name=name,
                 batch_size=params["batch_size"], max_length=params["max_length"], columns=params["columns"], overwrite=True)
    return go


def _sample_action(dataset: str, split: str, limit: int, seed: int, target: Path) -> Callable[[], None]:
    def go() -> None:
        from datamap.io.data import load_table

        frame, _ = load_table(dataset, split)
        if limit < len(frame):
            frame = frame.sample(n=limit, random_state=seed).reset_index(drop=True)
        atomic.write_table(target, frame)
    return go


# ------------------------------------------------------------------ running


def forced(p: Plan, patterns: list[str]) -> set[str]:
    """The stage ids that ``--force`` names: an id, a kind (``train``, ``select``...) or a glob (``seed42/*``)."""
    out: set[str] = set()
    for pat in patterns:
        hit = {s.id for s in p.stages if s.id == pat or s.kind == pat or fnmatch.fnmatchcase(s.id, pat)}
        if not hit:
            import difflib

            close = difflib.get_close_matches(pat, [s.id for s in p.stages] + list(KINDS), n=1)
            raise DatamapError(f"--force {pat}: no stage of that id, kind or pattern"
                               + (f" (did you mean {close[0]!r}?)" if close else f"; kinds: {', '.join(KINDS)}"))
        out |= hit
    return out


def describe(p: Plan, force: set[str] | None = None) -> list[tuple[str, str, str]]:
    """``[(stage id, kind, status)]``; status is ``done`` (skipped), ``run`` (new), ``redo (interrupted)``,
    ``redo (changed)``, ``redo (forced)``, ``redo (outputs missing)`` or ``run (after an earlier stage)``."""
    st = State(p, force)
    rows = []
    for s in p.stages:
        status = {"done": "done", "new": "run", "pending": "run (after an earlier stage)", "forced": "redo (forced)",
                  "interrupted": "redo (interrupted)", "changed": "redo (changed)",
                  "missing": "redo (outputs missing)"}[st.why(s)]
        rows.append((s.id, s.kind, status))
    return rows


def execute(p: Plan, force: set[str] | None = None, echo: Callable[[str], None] = print) -> dict:
    """Run every stage that is not done (in order); returns ``{"ran": [...], "skipped": [...]}``."""
    st = State(p, force)
    ran, skipped = [], []
    total = len(p.stages)
    for i, s in enumerate(p.stages, 1):
        if st.done(s):
            skipped.append(s.id)
            continue
        echo(f"[{i}/{total}] {s.kind}: {s.id}")
        key = st.key(s)
        st.force.discard(s.id)
        st.set(s, {"key": key, "status": "running"})
        if s.clean is not None:
            s.clean()
        s.action()
        st.set(s, {"key": key, "status": "complete", "token": uuid.uuid4().hex})
        ran.append(s.id)
    return {"ran": ran, "skipped": skipped}


def run_experiment(config: "str | Path", overrides: list[str] | None = None, *, dry_run: bool = False,
                   force: list[str] | None = None, jobs: int = 1, echo: Callable[[str], None] = print,
                   command: str = "") -> dict:
    """``datamap run``: validate the file, plan, run what is not done, write the results.

    Parameters
    ----------
    config : path
        The experiment file (YAML).
    overrides : list of str
        ``key.path=value`` items, validated like the file and saved in ``OUT/experiment.yaml``.
    dry_run : bool, default False
        Print the plan (every stage and whether it is done) and stop.
    force : list of str
        Stages to redo: an id (``seed42/cartography``), a kind (``train``) or a glob; the stages
        that read them are redone too.
    jobs : int, default 1
        Stages run at once; only 1 for now.
    echo : callable
        Where progress lines go.
    command : str
        The command line, shown in experiment.html.

    Returns ``{"plan", "stages" (dry run) | "ran", "skipped", "results"...}``.
    """
    import yaml

    from datamap.experiment.config import load_config

    if jobs != 1:
        raise DatamapError(f"--jobs {jobs}: only 1 is supported for now (stages run one after the other)")
    cfg = load_config(config, overrides)
    out = experiment_dir(cfg, config)
    p = plan(cfg, out)
    force_ids = forced(p, force or [])
    rows = describe(p, force_ids)
    if dry_run:
        width = max(len(r[0]) for r in rows)
        echo(f"experiment folder: {out}")
        for sid, kind, status in rows:
            echo(f"  {sid:<{width}}  {kind:<11} {status}")
        todo = sum(1 for r in rows if r[2] != "done")
        echo(f"{len(rows)} stages: {len(rows) - todo} done, {todo} to run")
        return {"plan": p, "stages": rows}
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "experiment.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    done = execute(p, force_ids, echo)
    from datamap.experiment.results import write_results

    paths = write_results(p, command)
    echo(paths["summary_table"].rstrip())
    echo(f"{len(done['ran'])} stages run, {len(done['skipped'])} already done; "
         f"results in {paths['results']}, report {paths['html']}")
    return {"plan": p, **done, **paths}
