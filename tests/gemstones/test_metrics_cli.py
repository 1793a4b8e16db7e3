"""``gemstones metrics list`` and laws on any registered metric, evaluated ones included.

The evaluated metrics come from a small result store written in the format ``gemstones eval``
writes (one JSON record per checkpoint and metric set, as in ``test_eval_results.py``). Their
values follow a known law of the catalog's Dolma loss, so the fits have an answer to recover.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gemstones.cli import main
from registry.catalog import load_catalog
from registry.metrics import METRICS

SHAPES = ["256x23", "512x12", "768x45", "1024x28", "1280x36", "1792x18", "2048x27", "3072x12"]
# a known loss-to-loss law: eval_loss_wiki = E_y + K (val_loss - E_x)^kappa
E_X, E_Y, K, KAPPA = 1.2, 0.6, 1.4, 0.8
# a known accuracy law of the Dolma loss with its floor at the task's chance level (0.3)
CHANCE, TOP, SLOPE, L0 = 0.3, 0.85, 2.5, 3.2


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def _rows() -> pl.DataFrame:
    frame = load_catalog(prefer_refreshed=False).frame
    return frame.filter(
        pl.col("variant") == "main", pl.col("shape").is_in(SHAPES), pl.col("step") % 4770 == 0
    )


def _write(store: Path, row: dict, kind: str, name: str, values: dict) -> None:
    commit = f"{abs(hash((row['repo_id'], row['revision']))):040x}"[-40:]
    record = {
        "schema": 1,
        "repo_id": row["repo_id"],
        "revision": row["revision"],
        "commit": commit,
        "metric": {"id": f"{kind}-{name}-000000000000", "kind": kind, "name": name},
        "values": values,
        "created": "2026-01-01T00:00:00+00:00",
    }
    path = store / row["repo_id"] / commit / f"{record['metric']['id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("evals")
    for row in _rows().iter_rows(named=True):
        loss = row["val_loss"]
        wiki = E_Y + K * (loss - E_X) ** KAPPA
        _write(root, row, "loss", "wiki", {"loss": wiki, "bits_per_byte": wiki / math.log(2)})
        acc = CHANCE + (TOP - CHANCE) / (1 + math.exp(SLOPE * (loss - L0)))
        _write(root, row, "mc", "quiz", {"acc": acc, "acc_norm": acc, "n": 100, "chance": CHANCE})
        _write(root, row, "mc", "blind", {"acc": acc, "acc_norm": acc, "n": 100})
    return root


def test_metrics_list_shows_the_catalog_and_the_evaluated_metrics(capsys, store, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # tables fit the terminal; give the names room
    code, out, err = _run(capsys, "metrics", "list", "--format", "json")
    assert code == 0, err
    assert [r["name"] for r in json.loads(out)] == list(METRICS.names())  # nothing evaluated yet
    code, out, err = _run(capsys, "metrics", "list", "--results", str(store), "--format", "json")
    assert code == 0, err
    listed = {r["name"]: r for r in json.loads(out)}
    assert listed["bench_siqa"]["chance"] == pytest.approx(1 / 3)
    assert listed["val_loss_dclm"]["kind"] == "loss" and listed["val_loss_dclm"]["chance"] is None
    assert listed["eval_acc_quiz"]["chance"] == pytest.approx(CHANCE)
    assert listed["eval_acc_blind"]["chance"] is None
    assert listed["eval_bpb_wiki"]["source"] == "evaluated"
    code, out, _ = _run(capsys, "metrics", "list", "--results", str(store))
    assert code == 0
    header = out.splitlines()[1]
    assert all(column in header for column in ("name", "kind", "chance", "source"))
    assert "| eval_acc_norm_quiz " in out and "| bench_piqa " in out
    code, out, _ = _run(capsys, "metrics", "list", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("name,kind,chance,direction,unit,source")
    assert len(out.splitlines()) == 1 + len(METRICS)


@pytest.mark.slow
def test_loss_to_loss_between_a_catalog_and_an_evaluated_loss(capsys, store, tmp_path):
    """The loss-to-loss start grid makes this fit take 20-30 s on a loaded 2-core machine."""
    code, out, err = _run(
        capsys,
        "laws", "loss-to-loss", "--x", "val_loss", "--y", "eval_loss_wiki",
        "--results", str(store), "--format", "json", "--plot", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(out)
    assert record["y"] == "eval_loss_wiki" and record["n_points"] == _rows().height
    assert record["params"]["kappa"] == pytest.approx(KAPPA, rel=0.05)
    assert record["objective"] < 1e-6
    assert (tmp_path / "loss_to_loss_val_loss_eval_loss_wiki.png").stat().st_size > 0


def test_loss_to_loss_pairs_two_evaluated_losses(store):
    from gemstones.scaling.law_analysis import loss_pairs

    pairs = loss_pairs("eval_loss_wiki", "eval_bpb_wiki", results=store)
    assert pairs.height == _rows().height
    assert set(pairs["shape"].unique().to_list()) == set(SHAPES)
    np.testing.assert_allclose(pairs["loss_y"], pairs["loss_x"] / math.log(2), rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--x", "eval_loss_news", "--y", "val_loss"], "unknown loss 'eval_loss_news'; valid: "),
        (["--x", "val_loss", "--y", "eval_acc_quiz"], "('eval_acc_quiz' is an accuracy)"),
        (["--x", "val_loss", "--y", "val_loss"], "two different losses"),
    ],
)
def test_loss_to_loss_refuses_what_is_not_a_registered_loss(capsys, store, args, needle):
    code, _, err = _run(capsys, "laws", "loss-to-loss", *args, "--results", str(store))
    assert code == 2 and err.startswith("error: ") and needle in err
    assert err.count("\n") == 1


def test_the_sigmoid_floor_is_the_registry_chance_level(capsys, store, tmp_path):
    design = tmp_path / "eval_quiz.toml"
    design.write_text(
        f'[selection]\nvariant = "main"\nshapes = {json.dumps(SHAPES)}\nresults = "{store}"\n'
    )
    code, out, err = _run(
        capsys,
        "laws", "fit", "--design", str(design), "--law", "sigmoid_accuracy",
        "--benchmark", "eval_acc_quiz", "--resamples", "4", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(out)
    assert record["params"]["chance"] == pytest.approx(CHANCE)  # from the result store
    assert record["params"]["L0"] == pytest.approx(L0, abs=0.02)
    code, out, err = _run(
        capsys,
        "laws", "fit", "--design", "hot", "--law", "sigmoid_accuracy",
        "--benchmark", "piqa", "--resamples", "2", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["params"]["chance"] == pytest.approx(0.5)  # 2 solutions per item


def test_an_accuracy_without_a_chance_level_is_refused(capsys, store):
    code, _, err = _run(
        capsys, "laws", "downstream", "--benchmark", "eval_acc_blind", "--results", str(store)
    )
    assert code == 2 and "'eval_acc_blind' has no known chance level" in err
    assert err.count("\n") == 1
