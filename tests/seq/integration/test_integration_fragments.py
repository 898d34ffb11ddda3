"""The site/fragment table reader: CSV and TSV, column choice, one clear error per bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.integration.fragments import read_fragments


def _write(tmp_path, text: str, name: str = "f.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_with_sonic_length_names(tmp_path):
    p = _write(tmp_path, '"locations","lengths","replicates","reads"\n"01 F 1",40,1,900\nb,41,2,3\n')
    f = read_fragments(p)
    assert f.sites == ["01 F 1", "b"] and f.lengths == [40, 41] and f.replicates == ["1", "2"]


def test_tsv_and_chosen_columns(tmp_path):
    p = _write(tmp_path, "id\tbp\nx\t55\ny\t60.0\n", "f.tsv")
    f = read_fragments(p, site_col="id", length_col="bp")
    assert f.sites == ["x", "y"] and f.lengths == [55, 60] and f.replicates is None


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("", {}, "empty file"),
        ("\n\n", {}, "empty file"),
        ("site,length\n", {}, "no fragment rows"),
        ("site,bp\na,40\n", {}, r"line 1: no length column"),
        ("site,length\na,40\n", {"replicate_col": "rep"}, r"line 1: no replicate column 'rep'"),
        ("site,length\na,40\nb,forty\n", {}, r"line 3, column 'length': 'forty' is not a number"),
        ("site,length\na,0\n", {}, r"line 2, column 'length': .* positive whole number"),
        ("site,length\na,-5\n", {}, "positive"),
        ("site,length\na,40.5\n", {}, "positive whole"),
        ("site,length\na,nan\n", {}, "positive"),
        ("site,length\na,inf\n", {}, "positive"),
        ("site,length,replicate\na,40,1\nb,41\n", {}, r"line 3: truncated line"),
        ("site,length\n,40\n", {}, r"line 2, column 'site': empty site id"),
    ],
)
def test_bad_tables(tmp_path, text, kwargs, match):
    p = _write(tmp_path, text)
    with pytest.raises(InputError, match=match) as info:
        read_fragments(p, **kwargs)
    msg = str(info.value)
    assert msg.startswith(str(p)) and "\n" not in msg


def test_missing_file_and_binary(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_fragments(tmp_path / "absent.csv")
    p = tmp_path / "b.csv"
    p.write_bytes(b"\xff\xfe\x00site")
    with pytest.raises(InputError):
        read_fragments(p)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(alphabet='site,length\t"\n0123456789-.ex ', max_size=200))
def test_fuzz_reader_raises_only_input_error(tmp_path, data):
    p = tmp_path / "fuzz.csv"
    if isinstance(data, str):
        p.write_text("site,length\n" + data)
    else:
        p.write_bytes(data)
    try:
        f = read_fragments(p)
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(f.sites) == len(f.lengths) > 0 and all(x > 0 for x in f.lengths)
