"""Designs: built-in selections equal the paper's tables; validation names bad keys; accounting."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.scaling.designs import (
    design_table,
    fit_design,
    fit_table,
    list_designs,
    load_design,
    parse_design,
    select_rows,
)
from registry.catalog import load_catalog
from registry.embedded import embedded_path
from registry.suites.gemstones import build as registry_build
from registry.suites.gemstones.architecture import VOCAB_SIZE

PAPER_SETS = list(registry_build.PAPER_SETS)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(prefer_refreshed=False)


def _upstream(name: str) -> pl.DataFrame:
    return pl.read_ndjson(
        embedded_path("upstream", "gemstones", "wandb_dfs", f"wandb_df_for_fitting_{name}.jsonl")
    )


def test_every_paper_set_has_a_builtin_design():
    assert set(PAPER_SETS) <= set(list_designs())


@pytest.mark.parametrize("name", PAPER_SETS)
def test_builtin_selection_equals_upstream_table(catalog, name):
    design = load_design(name)
    rows = select_rows(design, catalog)
    table = fit_table(design, rows).sort("run_name", "step")
    upstream = _upstream(name).sort("run_name", "step")
    assert table.height == upstream.height
    assert table["run_name"].to_list() == upstream["run_name"].to_list()
    assert table["step"].to_list() == upstream["step"].to_list()
    np.testing.assert_array_equal(table["loss"].to_numpy(), upstream["final_loss"].to_numpy())
    np.testing.assert_array_equal(table["tokens"].to_numpy(), upstream["tokens"].to_numpy())
    np.testing.assert_array_equal(
        table["params"].to_numpy(), upstream["params_active_precise"].to_numpy()
    )
    np.testing.assert_array_equal(table["width"].to_numpy(), upstream["width"].to_numpy())
    # the declarative selection agrees with the catalog's record of paper-set membership
    members = catalog.select(in_set=name).frame
    if name != "cool_begin":
        assert members.height == rows.height


def test_unknown_key_is_named_with_valid_keys():
    with pytest.raises(
        GemstonesInputError,
        match=r"unknown key 'varient' in \[selection\]; valid keys: source, suite, variant",
    ):
        parse_design({"selection": {"varient": "main"}})
    with pytest.raises(
        GemstonesInputError, match=r"unknown key 'laws' in the design; valid keys: name"
    ):
        parse_design({"laws": {}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"selection": {"max_step": "big"}}, r"\[selection\] max_step must be an integer"),
        ({"selection": {"shapes": "512x12"}}, r"\[selection\] shapes must be a list of str"),
        ({"fit": {"delta": "1e-4"}}, r"\[fit\] delta must be a number"),
        ({"law": {"embeddings": 0}}, r"\[law\] embeddings must be true or false"),
        (
            {"selection": {"variant": "hot"}},
            r"variant = 'hot' is not valid; valid values: main, lr_ablation, cooldown",
        ),
        ({"law": {"form": "chinchilla"}}, r"\[law\] form = 'chinchilla' is not valid"),
        ({"law": {"approach": 2}}, r"\[law\] approach = 2 is not valid"),
        ({"fit": {"delta": -1.0}}, r"delta must be a positive, finite number"),
        ({"columns": {"N": "params"}}, r"unknown key 'N' in \[columns\]"),
    ],
)
def test_wrong_types_and_values_are_named(data, message):
    with pytest.raises(GemstonesInputError, match=message):
        parse_design(data)


def test_unknown_design_lists_the_builtins(tmp_path):
    with pytest.raises(
        GemstonesInputError, match="unknown design 'hott'; built-in designs: cool_begin"
    ):
        load_design("hott")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(GemstonesInputError, match="not valid TOML"):
        load_design(bad)


def test_embedding_accounting_follows_the_paper(catalog):
    base = load_design("hot")
    with_embeddings = design_table(base, catalog)
    width = with_embeddings["width"].to_numpy().astype(float)
    approach3 = design_table(base.with_overrides(embeddings=False), catalog)
    np.testing.assert_array_equal(
        approach3["params"].to_numpy(), with_embeddings["params"].to_numpy() - VOCAB_SIZE * width
    )
    approach1 = design_table(base.with_overrides(embeddings=False, approach=1), catalog)
    np.testing.assert_array_equal(
        approach1["params"].to_numpy(),
        with_embeddings["params"].to_numpy() - 2 * VOCAB_SIZE * width,
    )
    explicit = parse_design(
        {"law": {"embeddings": False, "embedding_accounting": "input_and_head"}}
    )
    table = fit_table(explicit, select_rows(load_design("hot"), catalog))
    np.testing.assert_array_equal(table["params"].to_numpy(), approach1["params"].to_numpy())


def test_empty_selection_is_an_input_error(catalog):
    design = parse_design({"name": "nothing", "selection": {"variant": "main", "max_step": 1}})
    with pytest.raises(GemstonesInputError, match="selects no rows"):
        design_table(design, catalog)


def test_file_design_with_column_mapping(tmp_path):
    rng = np.random.default_rng(0)
    n_params = np.exp(rng.uniform(17, 21, 60))
    n_tokens = np.exp(rng.uniform(22, 25, 60))
    loss = 1.8 + 300 * n_params**-0.3 + 900 * n_tokens**-0.25
    pl.DataFrame({"N": n_params, "D": n_tokens, "L": loss}).write_csv(tmp_path / "runs.csv")
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\n[selection]\nsource = "runs.csv"\n'
        '[columns]\nparams = "N"\ntokens = "D"\nloss = "L"\n'
    )
    result = fit_design(load_design(tmp_path / "mine.toml"))
    assert result.table.height == 60
    np.testing.assert_allclose(result.fit.exponents, [0.3, 0.25], atol=1e-3)
    assert len(result.data_sha256) == 64


def test_approach1_design_reproduces_published_slopes(catalog):
    result = fit_design(load_design("hot_477"), catalog=catalog)
    assert result.fit.params.slope == pytest.approx(0.499380216082636, abs=1e-3)
    assert result.fit.tokens.slope == pytest.approx(0.4809888232129201, abs=1e-3)
    record = result.to_dict()
    assert record["design"] == "hot_477" and record["approach"] == 1


@pytest.mark.parametrize(
    ("loss", "message"),
    [
        ("val_los", r"\[selection\] loss = 'val_los': unknown metric 'val_los'; valid: val_loss, "),
        ("eval_f1_quiz", r"unknown metric 'eval_f1_quiz'; valid: .*eval_bpb_<name>"),
        ("bench_hellaswag", r"'bench_hellaswag' is an accuracy metric; .*laws downstream"),
        ("eval_acc_quiz", r"'eval_acc_quiz' is an accuracy metric"),
    ],
)
def test_the_fitted_metric_is_checked_against_the_metric_registry(loss, message):
    with pytest.raises(GemstonesInputError, match=message):
        parse_design({"selection": {"loss": loss}})


FINEWEB_EDU = {
    "selection": {"variant": "main", "every_steps": 2385, "loss": "val_loss_fineweb_edu"},
    "fit": {"n_polish": 16},
}


def test_any_registered_loss_metric_is_selected(catalog):
    table = design_table(parse_design(FINEWEB_EDU), catalog)
    expected = catalog.frame.filter(pl.col("variant") == "main", pl.col("step") % 2385 == 0).sort(
        "width", "depth", "step"
    )
    assert table.height == expected.height == 770
    np.testing.assert_allclose(table["loss"].to_numpy(), expected["val_loss_fineweb_edu"])


@pytest.mark.slow
def test_any_registered_loss_metric_is_fitted(catalog):
    """About 12 s on a loaded 2-core machine (the start-grid screen)."""
    design = parse_design(FINEWEB_EDU)
    table = design_table(design, catalog)
    fitted = fit_design(design, table=table).fit
    assert 0.0 < fitted.irreducible_error < table["loss"].min()  # measured: E = 0.63


def test_only_val_loss_is_measured_at_the_cooldown_start():
    base = {"variant": "cooldown", "point": "cooldown_start"}
    assert parse_design({"selection": {**base, "loss": "val_loss"}}).selection.loss == "val_loss"
    with pytest.raises(GemstonesInputError, match="only val_loss measured at the cooldown start"):
        parse_design({"selection": {**base, "loss": "val_loss_dclm"}})


def test_a_file_design_names_a_column_of_its_file_not_a_metric():
    design = parse_design({"selection": {"source": "runs.csv", "loss": "my_accuracy"}})
    assert design.selection.loss == "my_accuracy"
