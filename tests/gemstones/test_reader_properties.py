"""Property tests: the table readers, the design parser and the option parsers either succeed or
raise a typed input error (a one-line ``error:`` in the CLI); no other exception gets out.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fitting.errors import FitInputError
from gemstones.cli import one_line
from gemstones.cli.output import dumps_json
from gemstones.cli.selection import parse_int_list, parse_name_list, parse_token_count
from gemstones.errors import GemstonesInputError
from gemstones.readers import numeric_columns, read_table
from gemstones.runs.recurrent import MAX_R, MAX_R_VALUES, parse_r_list
from gemstones.scaling.designs import Design, load_design, parse_design
from registry.errors import RegistryInputError

USER_ERRORS = (GemstonesInputError, FitInputError, RegistryInputError)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _in_temp_file(suffix: str, content: bytes) -> tuple[tempfile.TemporaryDirectory, Path]:
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / f"table{suffix}"
    path.write_bytes(content)
    return folder, path


@SETTINGS
@given(
    suffix=st.sampled_from([".csv", ".jsonl", ".parquet", ".ndjson"]),
    content=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.lists(
            st.lists(st.text(alphabet=',"\n\r ab1.-e\xe9', max_size=6), max_size=4), max_size=6
        ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
        st.binary(max_size=200).map(lambda tail: b"PAR1" + tail + b"PAR1"),
    ),
)
def test_read_table_returns_a_table_or_a_one_line_input_error(suffix: str, content: bytes) -> None:
    folder, path = _in_temp_file(suffix, content)
    with folder:
        try:
            frame = read_table(path)
        except GemstonesInputError as error:
            assert "\n" not in one_line(error) and str(path.name) in str(error)
        else:
            assert isinstance(frame, pl.DataFrame) and frame.width >= 1


cells = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.text(alphabet="abcxyz .-+e", min_size=1, max_size=5),
    st.just(""),
)


@SETTINGS
@given(rows=st.lists(st.lists(cells, min_size=2, max_size=2), min_size=1, max_size=8))
def test_numeric_columns_accept_numbers_and_name_the_first_bad_cell(rows: list[list[str]]) -> None:
    folder = tempfile.TemporaryDirectory()
    with folder:
        path = Path(folder.name) / "t.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["a", "b"])
            writer.writerows(rows)
        try:
            frame = numeric_columns(read_table(path), ["a", "b"], path.name)
        except GemstonesInputError as error:
            message = str(error)
            assert message.startswith("t.csv: row ") and "\n" not in message
            assert any(not _is_number(cell) for row in rows for cell in row)
        else:
            assert all(_is_number(cell) for row in rows for cell in row)
            expected = [float(cell) for cell in (row[0] for row in rows)]
            assert frame["a"].to_list() == pytest.approx(expected, rel=1e-12, abs=0)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text != ""


jsonl_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(), st.text(max_size=4)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.sampled_from("ab"), inner, max_size=2)
    ),
    max_leaves=4,
)


@SETTINGS
@given(
    rows=st.lists(
        st.fixed_dictionaries({"a": jsonl_values, "b": jsonl_values}), min_size=1, max_size=5
    )
)
def test_numeric_columns_of_any_json_lines_are_numbers_or_an_input_error(rows: list[dict]) -> None:
    folder = tempfile.TemporaryDirectory()
    with folder:
        path = Path(folder.name) / "t.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        try:
            frame = numeric_columns(read_table(path), ["a", "b"], path.name)
        except GemstonesInputError as error:
            assert "\n" not in one_line(error)
        else:
            assert frame.schema["a"] == pl.Float64 and frame.schema["b"] == pl.Float64


toml_scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.text(max_size=12),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
section_keys = {
    "selection": ["source", "variant", "every_steps", "max_step", "min_tokens", "shapes", "loss"],
    "law": ["form", "variables", "approach", "embeddings", "embedding_accounting"],
    "fit": ["delta", "seed", "n_polish", "resource", "method", "n_buckets"],
}
designs = st.fixed_dictionaries(
    {},
    optional={
        "name": toml_values,
        "description": toml_values,
        **{
            section: st.one_of(
                toml_values,
                st.dictionaries(st.sampled_from(keys), toml_values, max_size=4),
            )
            for section, keys in section_keys.items()
        },
        "columns": st.dictionaries(st.text(max_size=8), toml_values, max_size=3),
    },
)


@SETTINGS
@given(data=designs)
def test_parse_design_returns_a_valid_design_or_an_input_error(data: dict) -> None:
    try:
        design = parse_design(data)
    except USER_ERRORS as error:
        assert "\n" not in one_line(error)
    else:
        assert isinstance(design, Design)
        assert math.isfinite(design.fit.delta) and design.fit.delta > 0
        assert 0 <= design.fit.seed < 2**32 and 1 <= design.fit.n_polish <= 10_000


@SETTINGS
@given(
    text=st.one_of(
        st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    )
)
def test_load_design_from_any_file_is_a_design_or_an_input_error(text: str) -> None:
    folder = tempfile.TemporaryDirectory()
    with folder:
        path = Path(folder.name) / "d.toml"
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        try:
            design = load_design(path)
        except USER_ERRORS as error:
            assert "\n" not in one_line(error)
        else:
            assert isinstance(design, Design)


@SETTINGS
@given(text=st.text(alphabet="0123456789,.… -", max_size=40))
def test_r_lists_are_bounded_or_refused(text: str) -> None:
    try:
        values = parse_r_list(text)
    except GemstonesInputError:
        return
    assert 1 <= len(values) <= MAX_R_VALUES
    assert all(1 <= v <= MAX_R for v in values) and values == sorted(set(values))


@SETTINGS
@given(text=st.text(max_size=30))
def test_filter_parsers_never_drop_an_empty_value(text: str) -> None:
    for parse in (
        lambda t: parse_int_list(t, "--width"),
        lambda t: parse_name_list(t, "--variant"),
        lambda t: parse_token_count(t, "--min-tokens"),
    ):
        try:
            parsed = parse(text)
        except RegistryInputError:
            continue
        if isinstance(parsed, list):
            assert len(parsed) == len(text.split(",")) and all(str(p).strip() for p in parsed)


json_values = st.recursive(
    st.one_of(st.floats(), st.integers(), st.text(max_size=5), st.none(), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=15,
)


@SETTINGS
@given(payload=json_values)
def test_json_output_is_always_strict(payload: object) -> None:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    json.loads(dumps_json(payload), parse_constant=refuse)
