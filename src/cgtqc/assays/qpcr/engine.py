"""qPCR amplification analysis: LinRegPCR baseline, window of linearity, efficiency, N0 and Cq.

The rules reproduce LinRegPCR as the RDML consortium implements it (rdmlpython ``linRegPCR``, whose
results tables are the field's reference output):

1. Curves are placed on a cycle grid 1..n; missing points are filled (ends with the nearest value,
   inner gaps linearly). A plate with fluorescence below zero is shifted per affected reaction by
   ``(max of plate - min of curve)/100 - min of curve`` so logarithms exist.
2. TD0, the cycle of maximal curvature, is where the third derivative (of the three-cycle mean of the
   second difference) crosses zero before the second-derivative maximum; it is LinRegPCR's
   quantification cycle.
3. The window of linearity ends at ``int(TD0 - 0.5)`` and starts at the first rising cycle, at most 9
   cycles long (minimum 4). The constant baseline is found by bisection so that the log10 slopes of the
   window's lower and upper halves agree (to 1e-5); the individual efficiency is ``10**slope`` of the
   upper half, R² that of the whole window.
4. Per target, a mean efficiency is taken over reactions that amplified (TD0 with four rising cycles,
   efficiency > 1.4), reached a plateau, had a stable baseline and are no negative control; outliers
   are removed by a Grubbs test run while the efficiencies are significantly skewed.
5. ``N0 = N_ampli / E_mean ** TD0`` where ``N_ampli`` is the copy number at which the chemistry limits
   exponential growth (primer or dye concentration x Avogadro x reaction volume x a chemistry factor).

A fluorescence-threshold Cq (log-linear interpolation on the baseline-corrected curve) is also given.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from cgtqc import __version__
from cgtqc.assays.qpcr.rdml import RdmlDocument, RdmlRun, RdmlTarget
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Provenance, ValidityCheck, file_input

ENGINE = "cgtqc.qpcr.linregpcr"
AVOGADRO = 6.02214076e23
NEGATIVE_CONTROL_TYPES = ("ntc", "nac", "ntp", "nrt")
# chemistry -> (copies factor, default dye concentration nM)
CHEMISTRY_DEFAULTS = {
    "non-saturating DNA binding dye": (1.5, 400.0),
    "saturating DNA binding dye": (0.04, 1250.0),
    "hybridization probe": (0.10, 400.0),
    "hydrolysis probe": (0.10, 400.0),
}
DEFAULT_PRIMER_NM = 250.0
DEFAULT_AMPLICON_BP = 100.0
MAX_WINDOW = 9
MIN_WINDOW = 4
MIN_AMPLIFICATION_EFFICIENCY = 1.4


@dataclass
class AmplificationCurve:
    """One reaction's raw amplification curve with what N0 needs (plateau copy limit)."""

    well: str
    target: str
    sample: str = ""
    sample_type: str = "unkn"
    cycles: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fluor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plateau_copies: float = 1.0
    excluded: bool = False


@dataclass
class ReactionResult:
    """LinRegPCR outcome for one reaction. Efficiencies are amplification factors (2.0 = 100%)."""

    well: str
    target: str
    sample: str
    sample_type: str
    baseline: float
    td0: float | None
    cq: float | None
    efficiency: float | None
    r2: float | None
    mean_efficiency: float | None
    mean_efficiency_sd: float | None
    n0: float | None
    indiv_n0: float | None
    window_start: int | None
    window_end: int | None
    amplification: bool
    plateau: bool
    baseline_error: int
    efficiency_outlier: bool
    used_for_mean: bool
    notes: list[str] = field(default_factory=list)
    experiment: str = ""  # the RDML experiment and run the reaction belongs to ("" for bare curves)
    run: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["notes"] = list(self.notes)
        return d


@dataclass
class QpcrAnalysis:
    """All reactions of the runs analysed with the per-target mean efficiencies, provenance and checks.

    One run: ``target_efficiency`` is keyed by target. Several runs (each analysed as its own plate, as
    LinRegPCR does): keyed ``"<experiment>/<run>/<target>"``, and each check's detail names its run.
    """

    reactions: list[ReactionResult]
    target_efficiency: dict[str, tuple[float | None, float | None]]
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reactions": [r.to_dict() for r in self.reactions],
            "target_efficiency": {t: {"mean": m, "sd": s} for t, (m, s) in self.target_efficiency.items()},
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def plateau_copies(target: RdmlTarget, volume_ul: float, double_stranded: bool = True) -> float:
    """Copies at which the chemistry limits exponential growth (LinRegPCR's N_ampli).

    Primer-limited for probes and saturating dyes: factor x min(primer nM) x Avogadro x 1e-15 x µL;
    dye-limited for non-saturating dyes: factor x dye nM x Avogadro x 1e-15 / amplicon bp x µL.
    Single-stranded template counts twice (one strand per copy).
    """
    chemistry = target.dye_chemistry or "non-saturating DNA binding dye"
    sybr = CHEMISTRY_DEFAULTS["non-saturating DNA binding dye"]
    factor, dye_default = CHEMISTRY_DEFAULTS.get(chemistry, sybr)
    if target.ncopy_factor is not None:
        factor = target.ncopy_factor
    if chemistry == "non-saturating DNA binding dye":
        dye = target.dye_conc_nm if target.dye_conc_nm is not None else dye_default
        amplicon = (
            float(target.amplicon_length)
            if target.amplicon_length and target.amplicon_length > 30
            else DEFAULT_AMPLICON_BP
        )
        per_ul = factor * dye * AVOGADRO * 1e-15 / amplicon
    else:
        primer = min(
            target.primer_conc_fw_nm or DEFAULT_PRIMER_NM, target.primer_conc_rv_nm or DEFAULT_PRIMER_NM
        )
        per_ul = factor * primer * AVOGADRO * 1e-15
    return per_ul * volume_ul * (1.0 if double_stranded else 2.0)


# warnings LinRegPCR itself writes into <excl>; they do not exclude a reaction when it is analysed again
_OWN_WARNINGS = re.compile(
    r"^(amplification in negative control|TD0 found in negative control|no TD0 found.*"
    r"|plateau in negative control"
    r"|no amplification.*|baseline error.*|instable baseline.*|no plateau.*|noisy sample.*|Ncopy [<>] .*"
    r"|no indiv PCR eff can be calculated|PCR efficiency outlier|Cq < 10|N0 unreliable|Cq > 34|Cq too high"
    r"|only -?\d+ values in log phase|indiv PCR eff is .+|mean PCR eff is .+)$"
)


def user_excluded(excl: str) -> bool:
    """True when an RDML <excl> text holds a reason other than LinRegPCR's own warnings."""
    return any(part.strip() and not _OWN_WARNINGS.match(part.strip()) for part in excl.split(";"))


def curves_from_rdml(doc: RdmlDocument, run: RdmlRun) -> list[AmplificationCurve]:
    """Amplification curves of a run with their plateau copy limits from the RDML metadata."""
    default_volume = 20.0 if run.columns < 13 else 10.0
    curves = []
    for r in run.reactions:
        target = doc.targets.get(r.target, RdmlTarget(id=r.target))
        sample = doc.samples.get(r.sample)
        ds = bool(sample.double_stranded) if sample is not None else False
        volume = r.volume_ul if r.volume_ul is not None else default_volume
        curves.append(
            AmplificationCurve(
                well=r.well,
                target=r.target,
                sample=r.sample,
                sample_type=r.sample_type,
                cycles=r.cycles,
                fluor=r.fluor,
                plateau_copies=plateau_copies(target, volume, ds),
                excluded=user_excluded(r.excluded),
            )
        )
    return curves


def analyze_rdml(
    doc: RdmlDocument, experiment: str | None = None, run: str | None = None, threshold: float | None = None
) -> QpcrAnalysis:
    """LinRegPCR analysis of an RDML document: every run with amplification data by default, or only the
    runs of ``experiment`` and/or the run named ``run``. Each run is analysed on its own (baseline and
    per-target mean efficiency are per plate) and every reaction carries its experiment and run.
    Runs without amplification points (e.g. melt-only) are skipped when not named and listed in the
    provenance (``runs_without_amplification``)."""
    chosen = [
        r
        for r in doc.runs
        if (experiment is None or r.experiment == experiment) and (run is None or r.id == run)
    ]
    if not chosen:
        doc.run(experiment, run)  # raises the error that lists the runs present
    with_data = [r for r in chosen if any(len(x.cycles) for x in r.reactions)]
    if not with_data:
        where = (
            f"experiment {chosen[0].experiment!r}, run {chosen[0].id!r}"
            if len(chosen) == 1
            else ", ".join(f"{r.experiment}/{r.id}" for r in chosen)
        )
        what = "run has" if len(chosen) == 1 else "no run has"
        raise InputError(f"{what} no amplification data (adp points)", file=doc.path, place=where)
    inputs = [file_input(doc.path)]
    parts = []
    for the_run in with_data:
        part = analyze_curves(
            curves_from_rdml(doc, the_run),
            threshold=threshold,
            inputs=inputs,
            extra_parameters={"experiment": the_run.experiment, "run": the_run.id},
        )
        for r in part.reactions:
            r.experiment, r.run = the_run.experiment, the_run.id
        parts.append((the_run, part))
    skipped = [[r.experiment, r.id] for r in chosen if r not in with_data]
    if len(parts) == 1:
        if skipped:
            parts[0][1].provenance.parameters["runs_without_amplification"] = skipped
        return parts[0][1]
    params = dict(parts[0][1].provenance.parameters)
    params.pop("experiment", None)
    params.pop("run", None)
    params["runs"] = [[r.experiment, r.id] for r, _ in parts]
    if skipped:
        params["runs_without_amplification"] = skipped
    reactions: list[ReactionResult] = []
    efficiency: dict[str, tuple[float | None, float | None]] = {}
    checks: list[ValidityCheck] = []
    for the_run, part in parts:
        reactions += part.reactions
        label = f"{the_run.experiment}/{the_run.id}"
        efficiency.update({f"{label}/{t}": v for t, v in part.target_efficiency.items()})
        where = f"experiment {the_run.experiment!r}, run {the_run.id!r}"
        checks += [ValidityCheck(c.name, c.passed, f"{where}: {c.detail}") for c in part.checks]
    return QpcrAnalysis(reactions, efficiency, Provenance(ENGINE, __version__, params, inputs), checks)


def _cycle_matrix(curves: list[AmplificationCurve]) -> np.ndarray:
    """Fluorescence on the grid of cycles 1..n (cycle c in column c-1), gaps filled."""
    if not curves:
        raise InputError("no amplification curves to analyse")
    n = max((int(math.ceil(c.cycles.max())) for c in curves if len(c.cycles)), default=0)
    if n < 8:
        raise InputError(f"amplification curves need at least 8 cycles, got {n}")
    mat = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        if len(c.cycles) != len(c.fluor):
            raise InputError("cycle and fluorescence counts differ", place=f"well {c.well}")
        cyc = np.ceil(c.cycles).astype(int)
        if len(cyc) and cyc.min() < 1:
            raise InputError("cycle numbers must be >= 1", place=f"well {c.well}")
        mat[i, cyc - 1] = c.fluor
    if not np.isfinite(mat).any():
        raise InputError("fluorescence data have no valid values")
    floor = np.nanmin(mat)
    for row in mat:
        ok = np.isfinite(row)
        if not ok.any():
            row[:] = floor
        elif not ok.all():
            idx = np.flatnonzero(ok)
            row[:] = np.interp(np.arange(n), idx, row[idx])  # ends take the nearest value
    return mat


def _derivatives(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First difference (n-1), 3-point mean of the second difference (n), and its difference (n-1)."""
    fd = np.diff(f)
    sd = np.full(len(f), np.nan)
    sd[1:-1] = np.diff(fd)
    mean_sd = np.full(len(f), np.nan)
    mean_sd[1:-1] = (sd[:-2] + sd[1:-1] + sd[2:]) / 3.0
    return fd, mean_sd, np.diff(mean_sd)


def _td0(f: np.ndarray) -> tuple[float, int]:
    """Cycle of maximal curvature (TD0, -1 if none) and the first cycle of the rise that ends there."""
    n = len(f)
    fd, mean_sd, td = _derivatives(f)
    max_fd = int(np.nanargmax(fd)) + 1
    if max_fd <= n - 2:
        if f[max_fd + 1] > f[max_fd] > f[max_fd - 1]:
            max_fd += 2
    else:
        max_fd = n
    max_sd, best = n, 0.0
    for cyc in range(3, max_fd):
        v = mean_sd[cyc - 1]
        if not np.isnan(v) and v - best > 0.0:
            best, max_sd = v, cyc
    if max_sd + 2 >= n:
        max_sd = n
    rise_start = max_sd
    while rise_start > 3 and f[rise_start - 2] < f[rise_start - 1]:
        rise_start -= 1
    rise_end = max_sd + 1 if max_sd < n and f[max_sd - 1] < f[max_sd] else max_sd
    stop = min(n - 1, max_sd + 2, rise_end - 1)
    for cyc in range(stop - 1, rise_start - 1, -1):
        a = td[cyc]
        b = td[cyc + 1] if cyc + 1 < len(td) else np.nan
        if a >= 0.0 and b < 0.0:
            return float(cyc) + 1.5 + a / (a - b), rise_start
    return -1.0, rise_start


def _log_fit(y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares line of log10(y) on 0..len-1: slope, intercept, correlation (nan if undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ly = np.log10(y)
    x = np.arange(len(y), dtype=float)
    xm, ym = x.mean(), ly.mean()
    sxx = ((x - xm) ** 2).sum()
    sxy = ((x - xm) * (ly - ym)).sum()
    syy = ((ly - ym) ** 2).sum()
    slope = sxy / sxx
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = sxy / math.sqrt(syy * sxx) if syy * sxx > 0 else float("nan")
    return slope, ym - slope * xm, corr


def _half_slopes(y: np.ndarray) -> tuple[float, float]:
    """log10 slopes of the lower and upper half of a window (odd windows share the middle point)."""
    half = len(y) / 2.0
    return _log_fit(y[: int(half - 0.4) + 1])[0], _log_fit(y[int(half) :])[0]


@dataclass
class _Window:
    error: int = 1
    background: float | None = None
    efficiency: float = 1.0
    r2: float = -1.0
    n0_window: float = 0.0
    start: int | None = None
    stop: int | None = None


def _window_of_linearity(f: np.ndarray, td0: float, rise_start: int) -> _Window:
    """Baseline by bisection on equal half-window slopes, efficiency from the window (error codes 0-6)."""
    w = _Window()
    if td0 < 3.0:
        w.error = 2
        return w
    stop = int(td0 - 0.5)
    if stop < MIN_WINDOW:
        w.error = 3
        return w
    start = max(rise_start + 1, stop - MAX_WINDOW + 1)
    w.start, w.stop = start, stop
    if stop - start + 1 < MIN_WINDOW:
        w.error = 4
        return w
    section = f[start - 1 : stop]
    low, high = _half_slopes(section)
    if low > high:  # raw curve already bends down: no exponential phase to straighten
        w.error = 5
        return w
    low, high = _half_slopes(section - section[0] + 1e-8)
    if low < high:  # even the largest baseline leaves a bending-up window
        w.error = 6
        return w
    base = section[0] * 0.5
    step = base * 0.5
    for _ in range(50):
        low, high = _half_slopes(section - base)
        if abs(low - high) < 1e-5:
            _, intercept, corr = _log_fit(section - base)
            w.error, w.background = 0, base
            w.efficiency = 10.0**high
            w.r2 = corr * corr
            w.n0_window = 10.0**intercept
            return w
        base = base - step if low > high else base + step
        step *= 0.5
    return w


def _grubbs_outliers(values: np.ndarray, alpha: float = 0.05) -> list[int]:
    """Indices removed as outliers: Grubbs test on the tail the skewness points to, while skewed."""
    vals = values.copy()
    removed: list[int] = []
    while True:
        ok = ~np.isnan(vals)
        n = int(ok.sum())
        if n < 3:
            return removed
        skew = float(stats.skew(vals[ok], bias=False))
        se = math.sqrt(6.0 * n * (n - 1) / ((n - 2) * (n + 1) * (n + 3)))
        if not (2.0 * stats.norm.sf(abs(skew) / se) < alpha / 2.0):
            return removed
        mean, sd = float(np.nanmean(vals)), float(np.nanstd(vals, ddof=1))
        t = stats.t.ppf(1 - (alpha / n) / 2, n - 2)
        g_crit = (n - 1) / math.sqrt(n) * math.sqrt(t * t / (n - 2 + t * t))
        pos = int(np.nanargmax(vals)) if skew > 0 else int(np.nanargmin(vals))
        if abs(vals[pos] - mean) / sd <= g_crit:
            return removed
        removed.append(pos)
        vals[pos] = np.nan


def threshold_cq(corrected: np.ndarray, threshold: float) -> float | None:
    """First fractional cycle where the baseline-corrected curve crosses ``threshold`` (log-linear)."""
    above = np.flatnonzero(corrected >= threshold)
    if len(above) == 0 or above[0] == 0:
        return None
    i = int(above[0])
    lo, hi = corrected[i - 1], corrected[i]
    if lo <= 0:
        return float(i + 1)
    frac = (math.log10(threshold) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return float(i) + frac  # column i-1 is cycle i


def analyze_curves(
    curves: list[AmplificationCurve],
    threshold: float | None = None,
    exclude_no_plateau: bool = True,
    inputs: list[InputFile] | None = None,
    extra_parameters: dict[str, Any] | None = None,
) -> QpcrAnalysis:
    """LinRegPCR on a set of curves run together (one plate). See the module docstring for the rules."""
    f_raw = _cycle_matrix(curves)
    n_react, n_cyc = f_raw.shape
    td0 = np.full(n_react, -1.0)
    rise = np.zeros(n_react, dtype=int)
    for i in range(n_react):
        td0[i], rise[i] = _td0(f_raw[i])
    four_rising = np.array([int(td0[i]) - rise[i] + 1 > 3 for i in range(n_react)])

    shift = np.zeros(n_react)
    if np.nanmin(f_raw) < 1e-8:
        top, lows = np.nanmax(f_raw), np.nanmin(f_raw, axis=1)
        neg = lows < 1e-8
        shift[neg] = (top - lows[neg]) / 100.0 - lows[neg]
    f = f_raw + shift[:, None]

    windows = [_window_of_linearity(f[i], td0[i], rise[i]) for i in range(n_react)]
    background = np.array(
        [w.background if w.background is not None else np.nanmin(f[i]) * 0.99 for i, w in enumerate(windows)]
    )
    corrected = f - background[:, None]
    eff = np.array([w.efficiency for w in windows])

    amplified = np.array(
        [td0[i] > 2.0 and four_rising[i] and eff[i] > MIN_AMPLIFICATION_EFFICIENCY for i in range(n_react)]
    )
    plateau = np.ones(n_react, dtype=bool)
    for i, w in enumerate(windows):
        if w.n0_window > 0.0 and eff[i] > 1.1:
            with np.errstate(over="ignore", divide="ignore"):
                expected = w.n0_window * eff[i] ** n_cyc
                plateau[i] = not (expected / corrected[i, -1] < 5)
    exclude = ~four_rising | ~amplified | np.array([w.error != 0 for w in windows])
    exclude |= np.array([c.excluded or c.sample_type in (*NEGATIVE_CONTROL_TYPES, "opt") for c in curves])
    if exclude_no_plateau:
        exclude |= ~plateau

    pooled = np.where(exclude | ~(eff >= 1.001), np.nan, eff)
    outlier = np.zeros(n_react, dtype=bool)
    mean_eff = np.full(n_react, np.nan)
    sd_eff = np.full(n_react, np.nan)
    target_eff: dict[str, tuple[float | None, float | None]] = {}
    for target in dict.fromkeys(c.target for c in curves):
        members = np.array([c.target == target for c in curves])
        vals = np.where(members, pooled, np.nan)
        for pos in _grubbs_outliers(vals):
            outlier[pos] = True
            vals[pos] = np.nan
        ok = ~np.isnan(vals)
        m = float(vals[ok].mean()) if ok.any() else float("nan")
        s = float(vals[ok].std()) if ok.any() else float("nan")
        mean_eff[members], sd_eff[members] = m, s
        target_eff[target] = (_finite(m), _finite(s))
    used = ~exclude & ~outlier & ~np.isnan(pooled)

    results = []
    for i, c in enumerate(curves):
        w = windows[i]
        has_td0 = td0[i] > 0.0
        n0 = float(c.plateau_copies / mean_eff[i] ** td0[i]) if has_td0 and 1.0 < mean_eff[i] < 2.3 else None
        indiv = float(c.plateau_copies / eff[i] ** td0[i]) if has_td0 and 1.0 < eff[i] < 2.3 else None
        cq = (
            threshold_cq(corrected[i], threshold)
            if threshold is not None
            else (float(td0[i]) if has_td0 else None)
        )
        notes = _notes(c.sample_type, amplified[i], plateau[i], td0[i], w.error, eff[i], outlier[i])
        results.append(
            ReactionResult(
                well=c.well,
                target=c.target,
                sample=c.sample,
                sample_type=c.sample_type,
                baseline=float(background[i] - shift[i]),
                td0=float(td0[i]) if has_td0 else None,
                cq=cq,
                efficiency=float(eff[i]) if w.error == 0 else None,
                r2=w.r2 if w.error == 0 else None,
                mean_efficiency=_finite(mean_eff[i]),
                mean_efficiency_sd=_finite(sd_eff[i]),
                n0=n0,
                indiv_n0=indiv,
                window_start=w.start,
                window_end=w.stop,
                amplification=bool(amplified[i]),
                plateau=bool(plateau[i]),
                baseline_error=w.error,
                efficiency_outlier=bool(outlier[i]),
                used_for_mean=bool(used[i]),
                notes=notes,
            )
        )

    params = {
        "threshold": threshold,
        "exclude_no_plateau": exclude_no_plateau,
        "max_window": MAX_WINDOW,
        "min_window": MIN_WINDOW,
        "outlier_test": "grubbs while skewed, alpha 0.05",
        "min_amplification_efficiency": MIN_AMPLIFICATION_EFFICIENCY,
        **(extra_parameters or {}),
    }
    checks = [
        ValidityCheck(
            f"mean_efficiency_{t}",
            m is not None and 1.7 <= m <= 2.1,
            f"mean amplification factor {m:.4f}"
            if m is not None
            else "no reaction usable for a mean efficiency",
        )
        for t, (m, _) in target_eff.items()
    ]
    for t in target_eff:
        neg = [r for r in results if r.target == t and r.sample_type in NEGATIVE_CONTROL_TYPES]
        if neg:
            hit = [r.well for r in neg if r.amplification]
            checks.append(
                ValidityCheck(
                    f"negative_controls_{t}",
                    not hit,
                    f"amplification in {', '.join(hit)}"
                    if hit
                    else f"{len(neg)} negative control(s) without amplification",
                )
            )
    return QpcrAnalysis(results, target_eff, Provenance(ENGINE, __version__, params, inputs or []), checks)


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _notes(
    sample_type: str, amplified: bool, plateau: bool, td0: float, error: int, eff: float, outlier: bool
) -> list[str]:
    """LinRegPCR's warnings, in its words."""
    notes = []
    negative = sample_type in NEGATIVE_CONTROL_TYPES
    if negative and amplified:
        notes.append("amplification in negative control")
    elif negative and td0 > 2.0:
        notes.append("TD0 found in negative control")
    elif not amplified and not negative:
        notes.append("no amplification")
        if td0 < 2.0:
            notes.append("no TD0 found")
        elif error > 0:
            notes.append("baseline error")
    elif amplified and not plateau:
        notes.append("no plateau")
    if 1.1 < eff < 1.7:
        notes.append(f"indiv PCR eff is {eff:.3f} < 1.7")
    if outlier:
        notes.append("PCR efficiency outlier")
    return notes
