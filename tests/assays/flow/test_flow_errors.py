"""Corrupt or non-compliant FCS and gating files give one clear InputError naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgtqc.assays.flow import sim as flow_sim
from cgtqc.assays.flow.engine import gate_file, load_fcs
from cgtqc.assays.flow.panels import run_panel, template_path
from cgtqc.errors import InputError


def _small_fcs(path: Path, n: int = 20) -> Path:
    rng = np.random.default_rng(0)
    events = rng.uniform(0, 1000, (n, 3))
    return flow_sim.write_fcs(path, events, ["FSC-A", "SSC-A", "FL1-A"], ["", "", "CD45"], {})


def test_truncated_file(tmp_path, shared):
    raw = shared("flow", "gate_ref", "data1.fcs").read_bytes()
    bad = tmp_path / "truncated.fcs"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match=r"^.*truncated\.fcs: corrupt FCS file") as exc:
        load_fcs(bad)
    assert exc.value.file.endswith("truncated.fcs")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an FCS file"),
        (b"hello world" * 10, "not an FCS file"),
        (b"FCS3.2    " + b" " * 60, "FCS version '3.2' is not supported"),
        (b"FCS1.0    " + b" " * 60, "FCS version '1.0' is not supported"),
    ],
)
def test_not_fcs_or_unsupported_version(tmp_path, content, message):
    bad = tmp_path / "bad.fcs"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message) as exc:
        load_fcs(bad)
    assert str(exc.value).startswith(str(bad)) and exc.value.place == "HEADER"


def test_header_claims_another_version(tmp_path, shared):
    raw = shared("flow", "gate_ref", "data1.fcs").read_bytes()
    bad = tmp_path / "relabelled.fcs"
    bad.write_bytes(b"FCS3.1" + raw[6:])  # an FCS 2.0 TEXT segment under a 3.1 HEADER
    with pytest.raises(InputError, match=r"relabelled\.fcs: TEXT segment: required keyword \$BEGINDATA"):
        load_fcs(bad)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_fcs(tmp_path / "nope.fcs")
    empty = flow_sim.write_fcs(
        tmp_path / "empty.fcs", np.zeros((0, 3)), ["FSC-A", "SSC-A", "FL1-A"], ["", "", ""], {}
    )
    with pytest.raises(InputError, match=r"empty\.fcs.*no events"):
        load_fcs(empty)


def test_non_finite_event(tmp_path):
    events = np.ones((5, 3))
    events[3, 1] = np.nan
    path = flow_sim.write_fcs(tmp_path / "nan.fcs", events, ["FSC-A", "SSC-A", "FL1-A"], ["", "", ""], {})
    with pytest.raises(InputError, match=r"nan\.fcs: event 4: non-finite"):
        load_fcs(path)


def test_bad_spillover_keyword(tmp_path):
    events = np.ones((5, 3))
    path = flow_sim.write_fcs(
        tmp_path / "spill.fcs",
        events,
        ["FSC-A", "SSC-A", "FL1-A"],
        ["", "", ""],
        {"$SPILLOVER": "2,FL1-A,FL9-A,1,0,x,1"},
    )
    with pytest.raises(InputError, match=r"spill\.fcs: \$SPILLOVER: spillover matrix cannot be used"):
        load_fcs(path)


def test_gating_that_reads_a_missing_channel(tmp_path):
    small = _small_fcs(tmp_path / "small.fcs")
    with pytest.raises(
        InputError,
        match=r"cart\.xml: gate Viable: gate 'Viable' reads channel '7-AAD', which small\.fcs lacks",
    ):
        gate_file(small, template_path("cart"))


def test_invalid_gatingml(tmp_path):
    small = _small_fcs(tmp_path / "small.fcs")
    bad = tmp_path / "gates.xml"
    bad.write_text("<not-gating-ml>")
    with pytest.raises(InputError, match=r"gates\.xml: not a valid GatingML 2\.0 document"):
        gate_file(small, bad)


def test_panel_with_gating_lacking_its_gates(tmp_path):
    sim = flow_sim.simulate_transduction(tmp_path / "t.fcs", seed=1, n_cells=2_000)
    with pytest.raises(InputError, match=r"transduction\.xml: gate 'CD45pos' is not in the gating strategy"):
        run_panel("cart", sim.path, gating=template_path("transduction"))
    with pytest.raises(InputError, match="unknown panel"):
        run_panel("nk", sim.path)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzzed_fcs_reads_or_raises_input_error(tmp_path, data):
    raw = bytearray(_small_fcs(tmp_path / "seed.fcs").read_bytes())
    cut = data.draw(st.integers(0, len(raw)))
    raw = raw[:cut] if data.draw(st.booleans()) else raw
    for _ in range(data.draw(st.integers(0, 4))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path / "fuzz.fcs"
    path.write_bytes(bytes(raw))
    try:
        sample = load_fcs(path)
    except InputError as exc:
        assert exc.file is not None and exc.file.endswith("fuzz.fcs")
    else:
        assert sample.event_count > 0


def test_singular_matrices_are_refused(tmp_path):
    events = np.ones((5, 4))
    pnn = ["FSC-A", "SSC-A", "FL1-A", "FL2-A"]
    path = flow_sim.write_fcs(
        tmp_path / "sing.fcs", events, pnn, ["", "", "", ""], {"$SPILLOVER": "2,FL1-A,FL2-A,1,1,1,1"}
    )
    with pytest.raises(InputError, match=r"sing\.fcs: \$SPILLOVER: spillover matrix is singular"):
        load_fcs(path)
    ok = flow_sim.write_fcs(tmp_path / "ok.fcs", events, pnn, ["", "", "", ""], {})
    with pytest.raises(InputError, match="singular"):
        load_fcs(ok, compensation=np.ones((2, 2)))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="FL12-A,.0123456789e\t\n x", max_size=80))
def test_fuzzed_compensation_csv_reads_or_raises_input_error(tmp_path, text):
    from cgtqc.assays.flow.engine import read_compensation

    fcs = load_fcs(
        flow_sim.write_fcs(
            tmp_path / "two.fcs", np.ones((3, 4)), ["FSC-A", "SSC-A", "FL1-A", "FL2-A"], ["", "", "", ""], {}
        )
    )
    csv = tmp_path / "m.csv"
    csv.write_text(text)
    try:
        m = read_compensation(csv, fcs)
    except InputError as exc:
        assert exc.file is not None and exc.file.endswith("m.csv")
    else:
        assert m.matrix.shape[0] == m.matrix.shape[1] == len(m.detectors)
