"""Flow cytometry engine: FCS loading, compensation, transforms and gating on FlowKit.

FlowKit (and FlowIO under it) parses FCS 2.0/3.0/3.1, applies compensation and the GatingML 2.0
transforms, and evaluates GatingML 2.0 files and FlowJo 10 workspaces. This module adds what a
release laboratory needs around it: one clear ``InputError`` naming the file for anything unreadable,
a checked mapping of gate dimensions to the file's channels, and a ``GatingReport`` in which every
percentage names its denominator (``percent_of(gate, ancestor)``) and carries its binomial 95% CI.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flowio
import flowkit as fk
import numpy as np

from cgtqc import __version__
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Provenance, file_input
from cgtqc.stats import wilson_interval

SUPPORTED_FCS_VERSIONS = ("2.0", "3.0", "3.1")
ROOT = "root"
Z95 = 1.959963984540054


# --------------------------------------------------------------------------------------------
# Loading and compensation
# --------------------------------------------------------------------------------------------


def _check_header(path: Path) -> str:
    """Read the 6-byte version field of the HEADER; refuse what is not FCS 2.0/3.0/3.1."""
    with open(path, "rb") as fh:
        head = fh.read(58)
    if len(head) < 58 or not head.startswith(b"FCS"):
        raise InputError("not an FCS file (no 'FCSx.y' HEADER of 58 bytes)", file=path, place="HEADER")
    version = head[3:6].decode("ascii", errors="replace")
    if version not in SUPPORTED_FCS_VERSIONS:
        raise InputError(
            f"FCS version {version!r} is not supported (supported: {', '.join(SUPPORTED_FCS_VERSIONS)})",
            file=path,
            place="HEADER",
        )
    return version


def load_fcs(
    path: str | Path,
    compensation: str | Path | np.ndarray | None = None,
    sample_id: str | None = None,
    compensate: bool = True,
) -> fk.Sample:
    """Read one FCS 2.0/3.0/3.1 file as a FlowKit ``Sample``; any defect becomes an ``InputError``.

    With ``compensate`` the sample's compensated events are computed with ``compensation`` (a CSV matrix
    file or an array over the fluorescence channels) or else the file's $SPILLOVER. The matrices are
    checked either way; gating (``gate_file``) compensates by itself and skips this step.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path)
    _check_header(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sample = fk.Sample(path, sample_id=sample_id or path.name)
    except flowio.exceptions.FCSParsingError as exc:
        raise InputError(f"corrupt FCS file: {exc}", file=path) from exc
    except KeyError as exc:
        raise InputError(
            f"required keyword ${str(exc.args[0]).upper()} is missing", file=path, place="TEXT segment"
        ) from exc
    except Exception as exc:  # FlowIO raises bare ValueError/IndexError on malformed segments
        raise InputError(f"unreadable FCS file: {type(exc).__name__}: {exc}", file=path) from exc
    if sample.event_count == 0:
        raise InputError("the file holds no events", file=path, place="$TOT")
    raw = sample.get_events(source="raw")
    if not np.all(np.isfinite(raw)):
        bad = int(np.argwhere(~np.isfinite(raw))[0][0])
        raise InputError("non-finite event value", file=path, place=f"event {bad + 1}")
    spill = spillover_matrix(sample, file=path)
    matrix = read_compensation(compensation, sample, file=path) if compensation is not None else spill
    if compensate and matrix is not None:
        sample.apply_compensation(matrix)
    return sample


def spillover_matrix(sample: fk.Sample, file: str | Path | None = None) -> fk.Matrix | None:
    """The matrix of the file's $SPILLOVER (or $SPILL / SPILL) keyword, or None when absent."""
    meta = sample.get_metadata()
    text = meta.get("spillover") or meta.get("spill")
    if text is None:
        return None
    detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
    try:
        matrix = fk.Matrix(text, detectors, null_channels=sample.null_channels)
    except Exception as exc:
        raise InputError(
            f"spillover matrix cannot be used: {exc}", file=file or sample.id, place="$SPILLOVER"
        ) from exc
    return _invertible(matrix, file or sample.id, "$SPILLOVER")


def _invertible(matrix: fk.Matrix, file: str | Path, place: str | None) -> fk.Matrix:
    """Compensation inverts the spillover matrix: refuse a singular or non-finite one."""
    m = np.asarray(matrix.matrix, dtype=float)
    if not np.all(np.isfinite(m)) or np.linalg.matrix_rank(m) < m.shape[0]:
        raise InputError("spillover matrix is singular or holds non-finite values", file=file, place=place)
    return matrix


def read_compensation(
    matrix: str | Path | np.ndarray, sample: fk.Sample, file: str | Path | None = None
) -> fk.Matrix:
    """A supplied compensation matrix: a CSV file whose header row names the detectors ($PnN), or a
    square array ordered as the sample's fluorescence channels."""
    detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
    if isinstance(matrix, np.ndarray):
        if matrix.shape != (len(detectors), len(detectors)):
            raise InputError(
                f"compensation matrix is {matrix.shape}, the file has {len(detectors)} fluorescence channels",
                file=file or sample.id,
            )
        return _invertible(fk.Matrix(matrix.astype(float), detectors), file or sample.id, None)
    mpath = Path(matrix)
    if not mpath.is_file():
        raise InputError("compensation matrix file not found", file=mpath)
    lines = [ln for ln in mpath.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    if not lines:
        raise InputError("empty compensation matrix", file=mpath)
    sep = "\t" if "\t" in lines[0] else ","
    header = [h.strip() for h in lines[0].split(sep)]
    if len(set(header)) != len(header):
        raise InputError("a detector is named twice in the header", file=mpath, place="line 1")
    missing = [h for h in header if h not in sample.pnn_labels]
    if missing:
        raise InputError(f"detector(s) {missing} not in the FCS file's channels", file=mpath, place="line 1")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split(sep)
        try:
            rows.append([float(c) for c in cells])
        except ValueError as exc:
            raise InputError(f"non-numeric value ({exc})", file=mpath, place=f"line {n}") from exc
        if len(rows[-1]) != len(header):
            raise InputError(
                f"{len(rows[-1])} values, header has {len(header)}", file=mpath, place=f"line {n}"
            )
    if len(rows) != len(header):
        raise InputError(f"{len(rows)} rows for {len(header)} detectors (matrix must be square)", file=mpath)
    return _invertible(fk.Matrix(np.array(rows), header), mpath, None)


def make_transform(kind: str, **params: float) -> Any:
    """A GatingML 2.0 transform by name: logicle (t, w, m, a), asinh (t, m, a), log (t, m), linear (t, a)."""
    defaults: dict[str, dict[str, float]] = {
        "logicle": {"t": 262144.0, "w": 0.5, "m": 4.5, "a": 0.0},
        "asinh": {"t": 262144.0, "m": 4.0, "a": 0.0},
        "log": {"t": 262144.0, "m": 4.5},
        "linear": {"t": 262144.0, "a": 0.0},
    }
    if kind not in defaults:
        raise InputError(f"unknown transform {kind!r} (known: {', '.join(defaults)})")
    p = {**defaults[kind], **params}
    if kind == "logicle":
        return fk.transforms.LogicleTransform(p["t"], p["w"], p["m"], p["a"])
    if kind == "asinh":
        return fk.transforms.AsinhTransform(p["t"], p["m"], p["a"])
    if kind == "log":
        return fk.transforms.LogTransform(p["t"], p["m"])
    return fk.transforms.LinearTransform(p["t"], p["a"])


# --------------------------------------------------------------------------------------------
# Gating strategies
# --------------------------------------------------------------------------------------------


def load_gating(path: str | Path) -> fk.GatingStrategy:
    """Parse a GatingML 2.0 file into a FlowKit ``GatingStrategy``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("gating file not found", file=path)
    try:
        return fk.parse_gating_xml(str(path))
    except Exception as exc:
        raise InputError(
            f"not a valid GatingML 2.0 document: {type(exc).__name__}: {exc}", file=path
        ) from exc


def _dimension_ids(gate: Any) -> list[tuple[str, str | None]]:
    """(channel id, compensation ref) for every channel a gate reads (ratio inputs included)."""
    out = []
    for dim in gate.dimensions:
        if isinstance(dim, fk.RatioDimension):
            continue
        dim_id = dim.dimension_ref if isinstance(dim, fk.QuadrantDivider) else dim.id
        out.append((dim_id, dim.compensation_ref))
    return out


def _iter_gates(strategy: fk.GatingStrategy) -> list[tuple[str, tuple[str, ...], Any]]:
    gates = []
    for name, path in strategy.get_gate_ids():
        try:
            gates.append((name, path, strategy.get_gate(name, gate_path=path)))
        except Exception:  # a single quadrant of a QuadrantGate: checked through its parent gate
            continue
    return gates


def check_channels(
    strategy: fk.GatingStrategy, sample: fk.Sample, gating_file: str | Path, fcs_file: str | Path
) -> None:
    """Every channel a gate reads must be a $PnN or $PnS label of the sample (or a matrix fluorochrome)."""
    labels = set(sample.pnn_labels) | {s for s in sample.pns_labels if s}
    labels |= {lb.replace("/", "_") for lb in sample.pnn_labels}
    for name, _path, gate in _iter_gates(strategy):
        for dim_id, comp_ref in _dimension_ids(gate):
            if dim_id in labels:
                continue
            matrix = strategy.comp_matrices.get(comp_ref) if comp_ref else None
            if matrix is not None and dim_id in matrix.fluorochromes:
                continue
            raise InputError(
                f"gate {name!r} reads channel {dim_id!r}, which {Path(fcs_file).name} lacks "
                f"(channels: {', '.join(sample.pnn_labels)}; "
                f"markers: {', '.join(s for s in sample.pns_labels if s)})",
                file=gating_file,
                place=f"gate {name}",
            )


def _use_supplied_matrix(strategy: fk.GatingStrategy, matrix: fk.Matrix) -> None:
    """Point every dimension that asks for the file's own spillover ('FCS') at a supplied matrix."""
    strategy.add_comp_matrix("cgtqc_supplied", matrix)
    for _name, _path, gate in _iter_gates(strategy):
        for dim in gate.dimensions:
            if getattr(dim, "compensation_ref", None) == "FCS":
                dim.compensation_ref = "cgtqc_supplied"


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Percentage:
    """``numerator`` events as a percentage of ``denominator`` events, with its Wilson 95% CI."""

    numerator: str
    denominator: str
    numerator_count: int
    denominator_count: int

    @property
    def value(self) -> float | None:
        if self.denominator_count == 0:
            return None
        return 100.0 * self.numerator_count / self.denominator_count

    @property
    def fraction(self) -> float:
        return self.numerator_count / self.denominator_count if self.denominator_count else math.nan

    @property
    def se(self) -> float:
        """Binomial standard error, in percentage points."""
        if self.denominator_count == 0:
            return math.nan
        p = self.fraction
        return 100.0 * math.sqrt(p * (1 - p) / self.denominator_count)

    @property
    def ci(self) -> tuple[float, float]:
        lo, hi = wilson_interval(self.numerator_count, self.denominator_count)
        return (100.0 * lo, 100.0 * hi)

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.ci
        return {
            "value": self.value,
            "unit": "%",
            "numerator": self.numerator,
            "denominator": self.denominator,
            "numerator_count": self.numerator_count,
            "denominator_count": self.denominator_count,
            "ci_low": lo,
            "ci_high": hi,
        }


@dataclass(frozen=True)
class GateCount:
    """One gate's population: its path from the root, its count and its parent's count."""

    name: str
    path: tuple[str, ...]  # ancestors, starting at "root"; excludes the gate itself
    count: int
    parent_count: int
    total_events: int
    gate_type: str
    quadrant_of: str | None = None
    source_path: tuple[str, ...] = field(default=(), repr=False, compare=False)  # FlowKit's gate path

    @property
    def parent(self) -> str:
        return self.path[-1]

    @property
    def percent_of_parent(self) -> float | None:
        return 100.0 * self.count / self.parent_count if self.parent_count else None

    @property
    def percent_of_total(self) -> float:
        return 100.0 * self.count / self.total_events

    @property
    def full_path(self) -> str:
        return "/".join((*self.path, self.name))

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.name,
            "path": self.full_path,
            "type": self.gate_type,
            "quadrant_of": self.quadrant_of,
            "count": self.count,
            "parent": self.parent,
            "parent_count": self.parent_count,
            "percent_of_parent": self.percent_of_parent,
            "percent_of_total": self.percent_of_total,
        }


@dataclass
class GatingReport:
    """Per-gate counts of one sample under one gating strategy, with per-event membership."""

    sample_id: str
    total_events: int
    gates: list[GateCount]
    provenance: Provenance
    fcs_file: str
    gating_file: str
    _membership: dict[tuple[str, tuple[str, ...]], np.ndarray] = field(default_factory=dict, repr=False)
    sample: fk.Sample | None = field(default=None, repr=False)
    strategy: fk.GatingStrategy | None = field(default=None, repr=False)

    def gate(self, name: str, path: Sequence[str] | None = None) -> GateCount:
        """The gate called ``name`` (give ``path`` when the name occurs under several parents)."""
        found = [g for g in self.gates if g.name == name and (path is None or g.path == tuple(path))]
        if not found:
            raise InputError(
                f"gate {name!r} is not in the gating strategy "
                f"(gates: {', '.join(g.name for g in self.gates)})",
                file=self.gating_file,
            )
        if len(found) > 1:
            raise InputError(
                f"gate {name!r} occurs at several paths: {[g.full_path for g in found]}; give its path",
                file=self.gating_file,
            )
        return found[0]

    def count(self, name: str) -> int:
        return self.total_events if name == ROOT else self.gate(name).count

    def percent_of(
        self, name: str, denominator: str | None = None, path: Sequence[str] | None = None
    ) -> Percentage:
        """Percentage of ``name`` among the events of ``denominator``: its parent when None, or any named
        ancestor ("root" for all events). A denominator that is not an ancestor is refused."""
        g = self.gate(name, path)
        denom = denominator or g.parent
        if denom != ROOT and denom not in g.path and denom != g.quadrant_of:
            raise InputError(
                f"{denom!r} is not an ancestor of gate {name!r} (path {g.full_path})", file=self.gating_file
            )
        if denom == g.quadrant_of:
            denom = g.parent
        if denom == ROOT:
            n = self.total_events
        else:
            depth = g.path.index(denom)
            n = self.gate(denom, g.path[:depth]).count
        return Percentage(name, denom, g.count, n)

    def membership(self, name: str, path: Sequence[str] | None = None) -> np.ndarray:
        """Boolean per-event membership of a gate (all events of the file, in file order)."""
        g = self.gate(name, path)
        return self._membership[(g.name, g.path)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample_id,
            "fcs_file": self.fcs_file,
            "gating_file": self.gating_file,
            "total_events": self.total_events,
            "gates": [g.to_dict() for g in self.gates],
            "provenance": self.provenance.to_dict(),
        }


def _report_from_results(
    results: Any,
    sample_id: str,
    total: int,
    provenance: Provenance,
    fcs_file: str,
    gating_file: str,
    sample: fk.Sample | None,
    strategy: fk.GatingStrategy | None,
) -> GatingReport:
    df = results.report.sort_values(["level"], kind="stable")
    quadrant_gates = {q for q in df["quadrant_parent"] if isinstance(q, str)}
    counts: dict[tuple[str, tuple[str, ...]], int] = {}
    gates: list[GateCount] = []
    membership: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
    for row in df.itertuples():
        source = tuple(row.gate_path)
        # a quadrant gate is not a population: its quadrants' children hang under the quadrant itself
        path = tuple(p for p in source if p not in quadrant_gates)
        parent_count = total if path == (ROOT,) else counts[(path[-1], path[:-1])]
        counts[(row.gate_name, path)] = int(row.count)
        quad = row.quadrant_parent if isinstance(row.quadrant_parent, str) else None
        gates.append(
            GateCount(row.gate_name, path, int(row.count), parent_count, total, row.gate_type, quad, source)
        )
        membership[(row.gate_name, path)] = np.asarray(
            results.get_gate_membership(row.gate_name, gate_path=source), dtype=bool
        )
    gates.sort(key=lambda g: (*g.path, g.name))
    return GatingReport(
        sample_id, total, gates, provenance, fcs_file, gating_file, membership, sample, strategy
    )


def gate_file(
    fcs_path: str | Path,
    gating_path: str | Path,
    sample_id: str | None = None,
    compensation: str | Path | np.ndarray | None = None,
    engine: str = "flow.gate",
    extra_parameters: dict[str, Any] | None = None,
) -> GatingReport:
    """Gate one FCS file with a GatingML 2.0 file (.xml) or a FlowJo 10 workspace (.wsp).

    GatingML dimensions with ``compensation-ref="FCS"`` use the file's $SPILLOVER, or the supplied
    ``compensation`` matrix when given. A workspace carries its own compensation and transforms; there
    ``sample_id`` picks the workspace sample (default: the one whose file name matches).
    """
    fcs_path, gating_path = Path(fcs_path), Path(gating_path)
    inputs: list[InputFile] = [file_input(fcs_path)] if fcs_path.is_file() else []
    if gating_path.is_file():
        inputs.append(file_input(gating_path))
    params = {
        "gating": gating_path.name,
        "sample_id": sample_id,
        "compensation": "supplied" if compensation is not None else "$SPILLOVER",
        **(extra_parameters or {}),
    }
    prov = Provenance(engine, __version__, params, inputs)
    if gating_path.suffix.lower() == ".wsp":
        if compensation is not None:
            raise InputError(
                "a FlowJo workspace carries its own compensation; do not supply a matrix", file=gating_path
            )
        return _gate_with_workspace(fcs_path, gating_path, sample_id, prov)
    strategy = load_gating(gating_path)
    sample = load_fcs(fcs_path, sample_id=sample_id, compensate=False)
    if compensation is not None:
        _use_supplied_matrix(strategy, read_compensation(compensation, sample, file=fcs_path))
    check_channels(strategy, sample, gating_path, fcs_path)
    try:
        results = strategy.gate_sample(sample, cache_events=True)
    except Exception as exc:
        raise InputError(f"gating failed: {type(exc).__name__}: {exc}", file=gating_path) from exc
    return _report_from_results(
        results, sample.id, sample.event_count, prov, fcs_path.name, gating_path.name, sample, strategy
    )


def _gate_with_workspace(
    fcs_path: Path, wsp_path: Path, sample_id: str | None, prov: Provenance
) -> GatingReport:
    if not wsp_path.is_file():
        raise InputError("workspace file not found", file=wsp_path)
    load_fcs(fcs_path)  # the same clear errors as for GatingML before FlowKit parses it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ws = fk.Workspace(str(wsp_path), fcs_samples=str(fcs_path))
    except Exception as exc:
        raise InputError(
            f"not a readable FlowJo 10 workspace: {type(exc).__name__}: {exc}", file=wsp_path
        ) from exc
    loaded = ws.get_sample_ids()
    sid = sample_id or (
        fcs_path.name if fcs_path.name in loaded else (loaded[0] if len(loaded) == 1 else None)
    )
    if sid is None or sid not in loaded:
        raise InputError(
            f"sample {sample_id or fcs_path.name!r} not in the workspace with this FCS file "
            f"(loaded: {loaded})",
            file=wsp_path,
        )
    try:
        ws.analyze_samples(sample_id=sid, use_mp=False)
        results = ws.get_gating_results(sid)
    except Exception as exc:
        raise InputError(
            f"gating failed: {type(exc).__name__}: {exc}", file=wsp_path, place=f"sample {sid}"
        ) from exc
    sample = ws.get_sample(sid)
    return _report_from_results(
        results,
        sid,
        sample.event_count,
        prov,
        fcs_path.name,
        wsp_path.name,
        sample,
        ws.get_gating_strategy(sid),
    )


def gate_events(
    report: GatingReport, name: str, path: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray, Any]:
    """Channel ids and the compensated, transformed events of a gate's dimensions (all events), and the
    FlowKit gate object: what a plot of that gate draws. GatingML strategies only."""
    if report.sample is None or report.strategy is None:
        raise InputError("the report holds no sample to plot", file=report.gating_file)
    g = report.gate(name, path)
    gate_name = g.quadrant_of or g.name
    gate = report.strategy.get_gate(gate_name, gate_path=g.source_path or g.path)
    sample, strategy = report.sample, report.strategy
    ids, cols = [], []
    compensated: dict[str | None, np.ndarray] = {}
    for dim in gate.dimensions:
        if isinstance(dim, fk.RatioDimension):
            raise InputError(
                f"gate {name!r} uses a ratio dimension; plotting it is not supported", file=report.gating_file
            )
        dim_id = dim.dimension_ref if isinstance(dim, fk.QuadrantDivider) else dim.id
        ref = dim.compensation_ref
        matrix = None
        if ref == "FCS":
            matrix = spillover_matrix(sample)  # None: GatingML says treat as uncompensated
        elif ref not in (None, "uncompensated"):
            matrix = strategy.comp_matrices[ref]
        if ref not in compensated:
            compensated[ref] = sample.get_events(source="raw") if matrix is None else matrix.apply(sample)
        events = compensated[ref]
        values = events[:, _channel_index(sample, dim_id, matrix)]
        if dim.transformation_ref is not None:
            values = strategy.get_transform(dim.transformation_ref).apply(values.reshape(-1, 1)).ravel()
        ids.append(dim_id)
        cols.append(values)
    return ids, np.column_stack(cols), gate


def _channel_index(sample: fk.Sample, label: str, matrix: fk.Matrix | None) -> int:
    """Column of a channel named by $PnN, $PnS, FlowJo's '_' for '/', or a matrix fluorochrome."""
    if label in sample.pnn_labels:
        return sample.pnn_labels.index(label)
    if label in sample.pns_labels:
        return sample.pns_labels.index(label)
    flowjo = [lb.replace("/", "_") for lb in sample.pnn_labels]
    if label in flowjo:
        return flowjo.index(label)
    if matrix is not None and label in matrix.fluorochromes:
        return sample.pnn_labels.index(matrix.detectors[matrix.fluorochromes.index(label)])
    raise InputError(f"channel {label!r} not in the sample", file=sample.id)
