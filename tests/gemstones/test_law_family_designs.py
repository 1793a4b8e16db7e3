"""Law families in designs: ``[law] family`` names a registered family, a family in the design
author's own Python file, or an installed entry point; ``gemstones fit --design`` fits it through
the real CLI; named power_sum laws added to the registry are accepted by designs and ``--law``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fitting.laws import NAMED_LAWS, REGISTRY, LawForm, register_law
from gemstones.cli import main
from gemstones.errors import GemstonesInputError
from gemstones.scaling.designs import load_design

# A toy family a user could write: L = E + A * C^-alpha on training FLOPs, 3 parameters.
TOY_MODULE = """
import numpy as np

from fitting.laws import LawFamily


class SaturatingLaw(LawFamily):
    name = "toy_saturating"
    description = "L = E + A * C^-alpha over training FLOPs"
    inputs = ("flops",)
    parameter_names = ("E", "A", "alpha")
    bounds = ((0.0, 10.0), (0.0, 1e6), (0.0, 2.0))

    def predict(self, params, x):
        e, a, alpha = np.asarray(params, dtype=np.float64)
        c = np.asarray(x, dtype=np.float64).reshape(-1)
        return e + a * c**-alpha

    def start_grid(self, x, y):
        # profile over E: for each E below the data, log(L - E) is a line in log C
        log_c = np.log(x[:, 0])
        starts = []
        for e in np.linspace(0.0, 0.98, 6) * float(np.min(y)):
            slope, intercept = np.polyfit(log_c, np.log(y - e), 1)
            starts.append([e, float(np.exp(intercept)), float(-slope)])
        return np.array(starts)


NOT_A_FAMILY = 3
"""
CLI = "from gemstones.cli import main; main()"
TRUTH = {"E": 1.8, "A": 2000.0, "alpha": 0.15}


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def _toy_design(folder: Path, family: str = "toy_laws.py:SaturatingLaw", extra: str = "") -> Path:
    """A file design over synthetic L = 1.8 + 2000 C^-0.15 (0.1% noise), and the toy module."""
    (folder / "toy_laws.py").write_text(TOY_MODULE)
    rng = np.random.default_rng(0)
    flops = np.geomspace(1e18, 1e22, 40)
    loss = (TRUTH["E"] + TRUTH["A"] * flops ** -TRUTH["alpha"]) * np.exp(
        rng.normal(0, 1e-3, flops.size)
    )
    pl.DataFrame({"flops": flops, "loss": loss}).write_csv(folder / "toy.csv")
    design = folder / "toy.toml"
    design.write_text(
        textwrap.dedent(
            f"""\
            name = "toy"
            description = "a user's own law family"
            [selection]
            source = "toy.csv"
            [law]
            family = "{family}"
            {extra}
            """
        )
    )
    return design


@pytest.mark.slow
def test_a_toy_family_in_a_user_file_is_fitted_by_fit_design(tmp_path):
    """Done when: a law family defined in a test file is fitted by ``gemstones fit --design``
    (a fresh process, the real CLI), recovering the parameters of the synthetic data."""
    design = _toy_design(tmp_path, extra="resamples = 6")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", CLI, "fit", "--design", str(design), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["family"] == record["law"] == "toy_saturating"
    assert record["design"] == "toy" and record["n_points"] == 40
    assert record["columns"] == ["flops"] and record["target"] == "loss"
    params = record["params"]
    assert params["E"] == pytest.approx(TRUTH["E"], rel=0.02)  # measured 1.812
    assert params["alpha"] == pytest.approx(TRUTH["alpha"], rel=0.02)  # measured 0.1508
    assert params["A"] == pytest.approx(TRUTH["A"], rel=0.1)  # measured 2064
    assert record["objective"] > 0 and "huber" in record["objective_name"]
    assert record["n_resamples"] + record["n_failed"] == 6
    for name, (low, high) in record["intervals"].items():
        assert low <= params[name] <= high


def test_toy_family_table_output_and_result_file(capsys, tmp_path):
    design = _toy_design(tmp_path)
    code, out, _ = _run(capsys, "fit", "--design", str(design), "--out", str(tmp_path / "res"))
    assert code == 0
    assert "family      toy_saturating: loss against flops" in out
    assert out.count("\n") >= 8 and "alpha" in out
    written = json.loads(next((tmp_path / "res").glob("*.json")).read_text())
    assert written["family"] == "toy_saturating"
    assert written["resolved_design"]["law"]["family"] == "toy_laws.py:SaturatingLaw"
    # the resolved family is in the registry, so `laws list` shows it with its constraints
    code, out, _ = _run(capsys, "laws", "list", "--format", "json")
    toy = {r["name"]: r for r in json.loads(out)}["toy_saturating"]
    assert toy["parameters"] == ["E", "A", "alpha"]
    assert toy["constraints"]["alpha"] == "[0, 2]"


@pytest.mark.parametrize(
    ("family", "needle"),
    [
        ("nope", "unknown law family 'nope'; available: power_sum, isoflop, loss_to_loss"),
        ("missing.py:SaturatingLaw", "file"),
        ("toy_laws.py:Saturating", "has no 'Saturating'; law families there: SaturatingLaw"),
        ("toy_laws.py:NOT_A_FAMILY", "is a int, not a fitting.laws.LawFamily"),
        ("no_such_package_xyz.mod:Law", "cannot import module 'no_such_package_xyz.mod'"),
    ],
)
def test_a_bad_family_is_one_line_exit_2(capsys, tmp_path, family, needle):
    design = _toy_design(tmp_path, family=family)
    code, out, err = _run(capsys, "fit", "--design", str(design))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_family_keys_are_checked(tmp_path):
    design = _toy_design(tmp_path, family="power_sum", extra='inputs = ["flops"]')
    with pytest.raises(GemstonesInputError, match=r"\[law\] inputs applies to law families"):
        load_design(design)
    design = _toy_design(tmp_path, family="isoflop", extra="approach = 1")
    with pytest.raises(GemstonesInputError, match="approach = 1 is a power_sum setting"):
        load_design(design)


def test_an_entry_point_family_is_usable_by_name(capsys, tmp_path, monkeypatch):
    """A package that declares ``[project.entry-points."gemstones.law_families"]``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "toy_plugin_laws.py").write_text(TOY_MODULE.replace("toy_saturating", "toy_plugin"))
    info = site / "toy_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[gemstones.law_families]\ntoy_plugin = toy_plugin_laws:SaturatingLaw\n"
    )
    monkeypatch.syspath_prepend(str(site))
    design = _toy_design(tmp_path, family="toy_plugin")
    code, out, err = _run(capsys, "fit", "--design", str(design), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["params"]["alpha"] == pytest.approx(TRUTH["alpha"], rel=0.02)


def test_isoflop_family_from_a_design_on_hot_477(capsys, tmp_path):
    """The built-in isoflop family through ``fit --design``: runs read run_name; the exponent
    is approach 2's on hot_477 (0.594 by ``laws isoflop``; measured 0.5945 here, interval
    [0.517, 0.663] from 50 resamples)."""
    design = tmp_path / "iso.toml"
    design.write_text(
        "name = 'iso'\n[selection]\nvariant = 'main'\nevery_steps = 477\nmax_step = 23850\n"
        "[law]\nfamily = 'isoflop'\nresamples = 20\n"
    )
    code, out, _ = _run(capsys, "fit", "--design", str(design), "--format", "json")
    assert code == 0
    record = json.loads(out)
    assert record["family"] == "isoflop" and record["columns"] == ["run_name", "params", "flops"]
    assert 0.5 < record["params"]["a"] < 0.7
    assert record["derived"]["tokens_exponent"] == pytest.approx(1 - record["params"]["a"])
    low, high = record["intervals"]["a"]  # by runs, each run counted by its multiplicity
    assert low < record["params"]["a"] < high and high - low < 0.5


@pytest.mark.slow
def test_a_named_law_added_to_the_registry_is_accepted_by_designs_and_the_cli(capsys, tmp_path):
    rng = np.random.default_rng(3)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 60))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e11), 60))
    loss = 1.7 + 400 * n**-0.34 + 400 * d**-0.28
    pl.DataFrame({"params": n, "tokens": d, "loss": loss}).write_csv(tmp_path / "nd.csv")
    (tmp_path / "nd.toml").write_text(
        "name = 'nd'\n[selection]\nsource = 'nd.csv'\n[law]\nform = 'tokens-params'\n"
    )
    code, _, err = _run(capsys, "fit", "--design", str(tmp_path / "nd.toml"))
    assert code == 2 and "[law] form = 'tokens-params' is not valid" in err
    register_law(LawForm("tokens-params", ("tokens", "params")))
    try:
        assert load_design(tmp_path / "nd.toml").law.variable_names == ("tokens", "params")
        args = ["fit", "--design", str(tmp_path / "nd.toml"), "--law", "tokens-params"]
        code, out, err = _run(capsys, *args, "--format", "json")
        assert code == 0, err
        record = json.loads(out)
        assert record["law"] == "tokens-params" and record["variables"] == ["tokens", "params"]
        assert record["exponents"] == pytest.approx([0.28, 0.34], abs=0.01)
    finally:
        NAMED_LAWS.unregister("tokens-params")
    code, _, err = _run(capsys, "fit", "--design", "hot", "--law", "tokens-params")
    assert code == 2 and "unknown --law 'tokens-params'; valid: params-tokens" in err


def test_fit_help_lists_the_named_laws(capsys):
    code, out, _ = _run(capsys, "fit", "--help")
    assert code == 0
    flat = " ".join(out.split()).replace("- ", "-")  # rich may wrap a name at its hyphen
    for name in NAMED_LAWS:
        assert name in flat
    assert "power_sum" in REGISTRY
