"""One stage shape: every command is ``verb(target, opts, *, overwrite=False) -> Result``; the command line
prints the verb's result, so ``--json`` is ``Result.summary()`` and the files it lists are those written."""

from __future__ import annotations

import inspect
import json
import shutil

import pandas as pd
import pytest

from datamap.cli import app, main
from datamap.stages import commands
from datamap.stages.commands import VERBS, Result
from test_cli_output import _learnt_run  # 40 examples, x0..x3 look mislabeled

CLI = {c.name or c.callback.__name__: c.callback for c in app.registered_commands}


def test_every_command_but_train_and_run_has_a_verb_of_one_shape():
    assert set(VERBS) == set(CLI) - {"train", "run"}
    for name, verb in VERBS.items():
        assert verb.__name__ == name.replace("-", "_"), name  # verb = command
        params = list(inspect.signature(verb).parameters.values())
        assert [p.name for p in params[1:2]] == ["opts"], name
        model = CLI[name].__options__
        cli_params = inspect.signature(CLI[name]).parameters
        if "overwrite" in cli_params:  # the command may replace files: the verb takes overwrite, keyword-only
            p = inspect.signature(verb).parameters["overwrite"]
            assert p.kind is p.KEYWORD_ONLY and p.default is False, name
        else:
            assert "overwrite" not in inspect.signature(verb).parameters, name
        assert model.command == name, f"{model.__name__}.command is {model.command!r}"


def _cli_json(capsys, *args) -> dict:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args] + ["--json"])
    assert exc.value.code == 0
    return json.loads(capsys.readouterr().out)


STEPS = [  # command, CLI arguments after the run, options of the verb
    ("metrics", [], {}),
    ("errors", ["--cut", "top:4", "--top", "5"], {"cut": "top:4", "top": 5}),
    ("select", ["--out", "clean", "--drop-errors"], {"out": "clean", "drop_errors": True}),
    ("relabel", ["--out", "{run}/relabeled.parquet"], {"out": "{run}/relabeled.parquet"}),
    ("weights", ["--out", "{run}/w.parquet", "--flagged-weight", "0.25"], {"out": "{run}/w.parquet", "flagged_weight": 0.25}),
    ("plot", [], {}),
    ("report", [], {}),
    ("export-dynamics", ["--out", "{run}/td"], {"out": "{run}/td"}),
]


def test_the_json_of_each_command_is_its_verbs_result(tmp_path, capsys):
    a = _learnt_run(tmp_path / "a")  # through the command line
    b = tmp_path / "b"  # through the verbs
    shutil.copytree(a, b)
    for name, args, options in STEPS:
        printed = _cli_json(capsys, name, a, *[x.replace("{run}", str(a)) for x in args])
        model = CLI[name].__options__
        opts = model(**{k: (v.replace("{run}", str(b)) if isinstance(v, str) else v) for k, v in options.items()})
        result = VERBS[name](b, opts)
        assert isinstance(result, Result) and result.command == name
        got = json.loads(json.dumps(result.summary(), default=str).replace(str(b), str(a)))
        assert printed == json.loads(json.dumps(got, allow_nan=True).replace("NaN", "null")), name
        assert printed["command"] == name and printed["files"], name
        for f in result.files:  # the files the result names were written, and are the same as the CLI's
            assert f.exists(), f
            twin = a / f.relative_to(b)
            if f.suffix in (".parquet", ".json") and f.name not in ("report.html",):
                assert twin.exists(), twin
    for root in (a, b):  # the options reached the stages: the 4 flagged weigh --flagged-weight, the rest 1
        w = pd.read_parquet(root / "w.parquet")
        assert dict(zip(w["id"], w["weight"])) == {f"x{i}": (0.25 if i < 4 else 1.0) for i in range(40)}
        relabeled = pd.read_parquet(root / "relabeled.parquet")
        assert sorted(relabeled["id"][relabeled["relabeled"]]) == ["x0", "x1", "x2", "x3"]


def test_a_verb_refuses_to_replace_without_overwrite(tmp_path):
    from datamap.errors import DatamapError
    from datamap.stages.options.errors import ErrorsOptions

    run = _learnt_run(tmp_path / "r")
    first = commands.errors(run, ErrorsOptions(cut="top:4"))
    assert first.data["n_flagged"] == 4 and [r["id"] for r in first.data["top"][:4]] == ["x0", "x1", "x2", "x3"]
    with pytest.raises(DatamapError, match="overwrite"):
        commands.errors(run, ErrorsOptions(cut="top:2"))
    again = commands.errors(run, ErrorsOptions(cut="top:2"), overwrite=True)
    assert again.data["n_flagged"] == 2
