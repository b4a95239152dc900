"""datamap select: the command writes what the core selects; its errors are one line with exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from datamap.cli import app as datamap_app
from datamap.stages.options.select import parse_amount
from datamap.errors import DatamapError
from selection_table import make_run


def cli_app():
    return datamap_app


def test_select_command(tmp_path):
    run, _ = make_run(tmp_path)
    runner = CliRunner()
    res = runner.invoke(
        cli_app(), ["select", str(run), "--out", "amb", "--ambiguous", "0.3", "--random", "0.2", "--seed", "1", "--csv"]
    )
    assert res.exit_code == 0, res.output
    obj = json.loads((run / "selections" / "amb.json").read_text())
    assert obj["ids"][:3] == ["e2", "e5", "e9"] and len(obj["ids"]) == 5
    assert obj["sizes"]["per_class"].keys() == {"neg", "pos"}
    assert (run / "selections" / "amb.csv").exists() and (run / "selections" / "amb.parquet").exists()
    assert "amb: 5 of 10 examples" in res.output

    res = runner.invoke(
        cli_app(), ["select", str(run), "--out", "unsure", "--where", "confidence<0.5", "--where", "variability>=0.1", "--drop-hard"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((run / "selections" / "unsure.json").read_text())["ids"] == ["e9"]

    res = runner.invoke(cli_app(), ["select", str(run), "--out", "f", "--by", "forgetfulness", "--top", "3"])
    assert res.exit_code == 0, res.output
    assert json.loads((run / "selections" / "f.json").read_text())["ids"] == ["e1", "e4", "e7"]

    res = runner.invoke(
        cli_app(), ["select", str(run), "--out", "sw", "--by", "confidence", "--top", "0.5", "--sweep", "--fractions", "0.1,0.3"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((run / "selections" / "sw_10.json").read_text())["ids"] == ["e0"]
    assert json.loads((run / "selections" / "sw_30.json").read_text())["ids"] == ["e0", "e8", "e3"]

    res = runner.invoke(cli_app(), ["select", "--help"])
    assert "Examples" in res.output and "--ambiguous" in res.output


def test_select_command_errors(tmp_path):
    run, _ = make_run(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli_app(), ["select", str(run), "--out", "x", "--ambiguous", "0.6", "--easy", "0.6"])
    assert isinstance(res.exception, DatamapError) and "sum to 1.2" in str(res.exception)
    res = runner.invoke(cli_app(), ["select", str(run), "--out", "x", "--where", "nope>1"])
    assert isinstance(res.exception, DatamapError) and "'nope'" in str(res.exception)
    res = runner.invoke(cli_app(), ["select", str(tmp_path / "missing"), "--out", "x"])
    assert isinstance(res.exception, DatamapError) and "run directory not found" in str(res.exception)
    assert not (run / "selections").exists()
    assert parse_amount("0.33", "--top") == 0.33 and parse_amount("100", "--top") == 100
    with pytest.raises(DatamapError, match="--top 'lots'"):
        parse_amount("lots", "--top")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--ambiguous", "0.6", "--easy", "0.6"], "region fractions sum to 1.2 > 1"),
        (["--ambiguous", "1.5"], "ambiguous must be a fraction in [0, 1], got 1.5"),
        (["--data-pct", "0"], "data_pct must be a fraction in (0, 1], got 0.0"),
        (["--by", "aum", "--top", "-3"], "--top must be an integer >= 1, got -3"),
        (["--easy", "0.1", "--sweep", "--fractions", "0.1,1.5"], "fractions[1] must be a fraction in [0, 1], got 1.5"),
        (["--where", "confidence~1"], "cannot parse filter 'confidence~1'"),
    ],
)
def test_select_command_core_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    from datamap.cli import main

    run, _ = make_run(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["select", str(run), "--out", "x", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (run / "selections").exists()
