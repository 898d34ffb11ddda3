"""ddPCR quantification: Poisson concentration, thresholds, two-channel cluster calls, merged wells.

Rules (see the README and the reference notes):

- copies per droplet λ = −ln(negatives / accepted); concentration in the reaction = λ / droplet volume.
- Poisson 95% limits as QX Manager reports them: a Wald interval on p = positives / accepted,
  p ± z·√(p(1−p)/N) with z = 1.96, each bound mapped through −ln(1−p)/V.
- Droplet volume is a parameter (default 0.85 nL; presets per software version, older QuantaSoft 0.91 nL).
- Merged replicate wells pool their droplets; the total error on each side is the larger of the Poisson
  half-width and z × the standard error of the per-well concentrations.
- A well with fewer accepted droplets than ``min_droplets`` (default 10,000) fails the validity check
  ``min_accepted_droplets``; a well with no negative droplet is saturated (``not_saturated`` fails).

Automatic thresholds: ``cgtqc.assays.ddpcr.threshold`` (1-D, one channel at a time) and
``cgtqc.assays.ddpcr.cluster2d`` (2-D, four clusters from both amplitudes). ``classification``:
``auto`` (default) classifies duplex wells (a positive cluster in each channel) in 2-D and the others
(singleplex, blank) with the 1-D thresholds; ``1d`` and ``2d`` force one method. A user threshold or
``use_file_calls`` overrides both. The method and boundaries used are in each well's provenance
(``classification``) and its ``classification_method``; a 2-D well whose clusters overlap fails the validity
check ``clusters_resolved``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc import __version__
from cgtqc.assays.ddpcr.cluster2d import MAX_NEGATIVE_SKEW, MIN_RESOLUTION, Classification2D, classify_2d
from cgtqc.assays.ddpcr.readers import (
    DropletAmplitudes,
    WellRecord,
    WellTable,
    amplitude_file_for,
    read_amplitudes,
    read_ddpcr,
)
from cgtqc.assays.ddpcr.threshold import MIN_DROPLETS_FOR_AUTO_THRESHOLD, Threshold, auto_threshold
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Provenance, ValidityCheck, file_input

ENGINE = "ddpcr.quantify"
Z95 = 1.96  # QX Manager's z for the 95% Poisson limits (reproduces quant.csv to < 1e-7)
DEFAULT_DROPLET_VOLUME_NL = 0.85
DEFAULT_MIN_DROPLETS = 10_000
CLASSIFICATIONS = ("auto", "1d", "2d")
#: droplet volume (nL) each software version assumes; older QuantaSoft fits 0.91 nL (small.csv)
DROPLET_VOLUME_PRESETS_NL: dict[str, float] = {
    "qx_manager": 0.85,
    "quantasoft_1.7": 0.85,
    "quantasoft_old": 0.91,
}


@dataclass(frozen=True)
class PoissonEstimate:
    """Copies per droplet and per µL of reaction with the Wald 95% limits."""

    copies_per_droplet: float | None
    copies_per_ul: float | None
    ci_low: float | None
    ci_high: float | None


def _lambda(p: float) -> float | None:
    if p >= 1.0:
        return None
    return -math.log1p(-p) if p > 0 else 0.0


def poisson_concentration(
    positives: int, accepted: int, droplet_volume_nl: float = DEFAULT_DROPLET_VOLUME_NL, z: float = Z95
) -> PoissonEstimate:
    """λ = −ln(1 − p) and λ/V with a Wald interval on p pushed through the same map (None if saturated)."""
    if accepted <= 0:
        return PoissonEstimate(None, None, None, None)
    if not 0 <= positives <= accepted:
        raise InputError(f"positives ({positives}) outside 0..accepted ({accepted})")
    if droplet_volume_nl <= 0:
        raise InputError(f"droplet volume must be > 0 nL, got {droplet_volume_nl}")
    v_ul = droplet_volume_nl / 1000.0
    p = positives / accepted
    half = z * math.sqrt(p * (1 - p) / accepted)
    lam, lo, hi = _lambda(p), _lambda(max(p - half, 0.0)), _lambda(min(p + half, 1.0))

    def per_ul(x: float | None) -> float | None:
        return None if x is None else x / v_ul

    return PoissonEstimate(lam, per_ul(lam), per_ul(lo), per_ul(hi))


def lambda_variance(positives: int, accepted: int) -> float:
    """Delta-method variance of λ̂ = −ln(1 − p̂): p / (N (1 − p)); infinite when saturated."""
    p = positives / accepted
    return math.inf if p >= 1 else p / (accepted * (1 - p))


@dataclass(frozen=True)
class ClusterCounts:
    """Droplet counts of the four two-channel clusters."""

    nn: int  # Ch1-Ch2-
    pn: int  # Ch1+Ch2-
    np_: int  # Ch1-Ch2+
    pp: int  # Ch1+Ch2+

    @property
    def total(self) -> int:
        return self.nn + self.pn + self.np_ + self.pp

    def to_dict(self) -> dict[str, int]:
        return {"ch1-ch2-": self.nn, "ch1+ch2-": self.pn, "ch1-ch2+": self.np_, "ch1+ch2+": self.pp}


def cluster_counts(pos1: np.ndarray, pos2: np.ndarray) -> ClusterCounts:
    """Count droplets in the four clusters from per-droplet positive calls of each channel."""
    p1, p2 = np.asarray(pos1, bool), np.asarray(pos2, bool)
    return ClusterCounts(
        nn=int(np.sum(~p1 & ~p2)),
        pn=int(np.sum(p1 & ~p2)),
        np_=int(np.sum(~p1 & p2)),
        pp=int(np.sum(p1 & p2)),
    )


def _plain_fields(obj: Any, skip: tuple[str, ...]) -> dict[str, Any]:
    """A result's scalar fields in declaration order (the JSON keys of ``to_dict``)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.name not in skip}


@dataclass
class DdpcrWell:
    """One well and one target: droplet counts, Poisson concentration, validity checks and provenance."""

    well: str
    target: str
    sample: str
    channel: int | None
    positives: int
    negatives: int
    accepted_droplets: int
    copies_per_droplet: float | None
    copies_per_ul: float | None
    poisson_ci_low: float | None
    poisson_ci_high: float | None
    droplet_volume_nl: float
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)
    clusters: ClusterCounts | None = None
    threshold: Threshold | None = None
    source: str = ""
    classification_method: str = ""  # "1d", "2d", "user", "file_calls" (droplet amplitudes) or "" (table)

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        d = _plain_fields(self, skip=("provenance", "checks", "clusters", "threshold"))
        d["valid"] = self.valid
        d["checks"] = [c.to_dict() for c in self.checks]
        if self.clusters is not None:
            d.update(self.clusters.to_dict())
        if self.threshold is not None:
            d["threshold"] = self.threshold.value
            d["threshold_method"] = self.threshold.method
        d["provenance"] = self.provenance.to_dict()
        return d


def well_checks(positives: int, accepted: int, min_droplets: int) -> list[ValidityCheck]:
    """The named validity checks of one well: enough droplets, and not saturated."""
    return [
        ValidityCheck(
            "min_accepted_droplets",
            accepted >= min_droplets,
            f"{accepted} accepted droplets (minimum {min_droplets})",
        ),
        ValidityCheck(
            "not_saturated",
            positives < accepted,
            f"{accepted - positives} negative droplets"
            if positives < accepted
            else "no negative droplet: concentration above the range",
        ),
    ]


def make_well(
    *,
    well: str,
    target: str,
    sample: str,
    channel: int | None,
    positives: int,
    accepted: int,
    droplet_volume_nl: float,
    min_droplets: int,
    provenance: Provenance,
    clusters: ClusterCounts | None = None,
    threshold: Threshold | None = None,
    source: str = "",
    extra_checks: list[ValidityCheck] | None = None,
    classification_method: str = "",
) -> DdpcrWell:
    """Build a DdpcrWell from its counts (the one place concentration and checks are computed)."""
    est = poisson_concentration(positives, accepted, droplet_volume_nl)
    return DdpcrWell(
        well=well,
        target=target,
        sample=sample,
        channel=channel,
        positives=positives,
        negatives=accepted - positives,
        accepted_droplets=accepted,
        copies_per_droplet=est.copies_per_droplet,
        copies_per_ul=est.copies_per_ul,
        poisson_ci_low=est.ci_low,
        poisson_ci_high=est.ci_high,
        droplet_volume_nl=droplet_volume_nl,
        provenance=provenance,
        checks=well_checks(positives, accepted, min_droplets) + list(extra_checks or []),
        clusters=clusters,
        threshold=threshold,
        source=source,
        classification_method=classification_method,
    )


def _provenance(inputs: list[InputFile], **parameters: Any) -> Provenance:
    return Provenance(engine=ENGINE, engine_version=__version__, parameters=parameters, inputs=inputs)


def quantify_record(
    rec: WellRecord,
    *,
    droplet_volume_nl: float = DEFAULT_DROPLET_VOLUME_NL,
    min_droplets: int = DEFAULT_MIN_DROPLETS,
    inputs: list[InputFile] | None = None,
    source: str = "",
) -> DdpcrWell:
    """Quantify one well-table row from its positive and negative droplet counts."""
    if not rec.has_counts:
        raise InputError(
            "no droplet counts (Positives/Negatives empty): empty well",
            file=source or None,
            place=f"line {rec.line}, well {rec.well}",
        )
    assert rec.positives is not None and rec.negatives is not None
    clusters = None
    if None not in (rec.ch1n_ch2n, rec.ch1p_ch2n, rec.ch1n_ch2p, rec.ch1p_ch2p):
        clusters = ClusterCounts(
            rec.ch1n_ch2n or 0, rec.ch1p_ch2n or 0, rec.ch1n_ch2p or 0, rec.ch1p_ch2p or 0
        )
    prov = _provenance(
        inputs or [],
        droplet_volume_nl=droplet_volume_nl,
        min_droplets=min_droplets,
        z=Z95,
        counts_from="well table",
    )
    return make_well(
        well=rec.well,
        target=rec.target,
        sample=rec.sample,
        channel=rec.channel,
        positives=rec.positives,
        accepted=rec.positives + rec.negatives,
        droplet_volume_nl=droplet_volume_nl,
        min_droplets=min_droplets,
        provenance=prov,
        clusters=clusters,
        source=source,
    )


def channel_calls(
    d: DropletAmplitudes, channel: int, threshold: float | None, use_file_calls: bool
) -> tuple[np.ndarray, np.ndarray, Threshold]:
    """Per-droplet positive calls and the accepted-droplet mask of one channel, with the threshold used."""
    amps = d.ch1 if channel == 1 else d.ch2
    if threshold is not None:
        return amps > threshold, np.ones(amps.size, bool), Threshold(channel, float(threshold), "user")
    if use_file_calls:
        keys = list(d.file_calls)
        key = (
            f"ch{channel}"
            if f"ch{channel}" in d.file_calls
            else (keys[channel - 1] if len(keys) >= channel else None)
        )
        if key is None:
            raise InputError(f"no instrument calls for channel {channel} in this file", file=d.path)
        calls = d.file_calls[key]
        return calls == 1, calls >= 0, Threshold(channel, None, "file_calls", f"column {key!r}")
    t = auto_threshold(amps, channel)
    return amps > t.value, np.ones(amps.size, bool), t


def _resolved_check(c: Classification2D, one_d: bool = False) -> ValidityCheck:
    """``clusters_resolved``: each pair of clusters across a boundary apart, the negative one symmetric."""
    worst = min(c.resolution.values(), default=None)
    parts = [] if one_d or worst is None else [
        f"lowest cluster resolution {worst:.2f} (minimum {MIN_RESOLUTION:g}): "
        + ", ".join(f"{k} {v:.2f}" for k, v in c.resolution.items())
    ]
    sk = c.negative_skew
    parts.append(f"negative cluster upper/lower SD {sk[0]:.2f}, {sk[1]:.2f} (maximum {MAX_NEGATIVE_SKEW:g})")
    passed = c.negative_symmetric if one_d else c.resolved
    if not passed:
        parts.append("clusters overlap: droplet calls uncertain, set thresholds or review the plot")
    return ValidityCheck("clusters_resolved", passed, "; ".join(parts))


def quantify_amplitudes(
    d: DropletAmplitudes,
    *,
    threshold_ch1: float | None = None,
    threshold_ch2: float | None = None,
    use_file_calls: bool = False,
    classification: str = "auto",
    rain_rule: str = "edge",
    droplet_volume_nl: float = DEFAULT_DROPLET_VOLUME_NL,
    min_droplets: int = DEFAULT_MIN_DROPLETS,
    targets: tuple[str, str] = ("ch1", "ch2"),
    sample: str = "",
    inputs: list[InputFile] | None = None,
) -> list[DdpcrWell]:
    """Call droplets in both channels and quantify each; every well also carries the four cluster counts.

    ``classification``: ``auto`` (2-D for duplex wells, 1-D otherwise), ``1d`` or ``2d``; user thresholds
    and ``use_file_calls`` take precedence (module docstring). ``rain_rule``: see
    ``cluster2d.classify_2d``."""
    if classification not in CLASSIFICATIONS:
        raise InputError(f"unknown classification {classification!r} (known: {', '.join(CLASSIFICATIONS)})")
    details: dict[str, Any] = {"requested": classification}
    extra: list[ValidityCheck] = []
    two_d = c2 = None
    automatic = threshold_ch1 is None and threshold_ch2 is None and not use_file_calls
    if automatic and classification != "1d" and d.n_droplets >= MIN_DROPLETS_FOR_AUTO_THRESHOLD:
        c2 = classify_2d(d.ch1, d.ch2, rain_rule=rain_rule)
        if classification == "2d" or c2.duplex:
            two_d = c2
    if two_d is not None:
        ok = np.ones(d.n_droplets, bool)
        pos1, pos2 = two_d.pos1, two_d.pos2
        line = {c: b.to_dict()["line"] or b.how for c, b in two_d.boundaries.items()}
        t1 = Threshold(1, two_d.line_value(1), "2d", line[1])
        t2 = Threshold(2, two_d.line_value(2), "2d", line[2])
        details.update(two_d.to_dict(), duplex=two_d.duplex)
        extra.append(_resolved_check(two_d))
        method = "2d"
    else:
        pos1, ok1, t1 = channel_calls(d, 1, threshold_ch1, use_file_calls)
        pos2, ok2, t2 = channel_calls(d, 2, threshold_ch2, use_file_calls)
        ok = ok1 & ok2  # droplets unclassified in either channel are left out
        method = "1d" if automatic else ("file_calls" if use_file_calls else "user")
        details.update(method=method)
        if automatic and classification == "auto" and c2 is not None:
            details["why"] = "not duplex (no positive cluster in one channel)"
            details["negative_skew"] = list(c2.negative_skew)
            extra.append(_resolved_check(c2, one_d=True))
    clusters = cluster_counts(pos1[ok], pos2[ok])
    accepted = int(ok.sum())
    prov = _provenance(
        inputs if inputs is not None else [file_input(d.path)],
        droplet_volume_nl=droplet_volume_nl,
        min_droplets=min_droplets,
        z=Z95,
        threshold_ch1=t1.to_dict(),
        threshold_ch2=t2.to_dict(),
        use_file_calls=use_file_calls,
        counts_from="droplet amplitudes",
        classification=details,
    )
    wells = []
    for channel, pos, t in ((1, pos1, t1), (2, pos2, t2)):
        wells.append(
            make_well(
                well=d.well,
                target=targets[channel - 1],
                sample=sample,
                channel=channel,
                positives=int(pos[ok].sum()),
                accepted=accepted,
                droplet_volume_nl=droplet_volume_nl,
                min_droplets=min_droplets,
                provenance=prov,
                clusters=clusters,
                threshold=t,
                source=d.path,
                extra_checks=extra,
                classification_method=method,
            )
        )
    return wells


def quantify_table(table: WellTable, *, droplet_volume_nl: float = DEFAULT_DROPLET_VOLUME_NL,
                   min_droplets: int = DEFAULT_MIN_DROPLETS, threshold_ch1: float | None = None,
                   threshold_ch2: float | None = None, use_file_calls: bool = False,
                   classification: str = "auto") -> list[DdpcrWell]:
    """Quantify every row of a well table; rows without counts use the amplitude file beside the table."""
    inputs = [file_input(table.path)]
    common = {"droplet_volume_nl": droplet_volume_nl, "min_droplets": min_droplets}
    out: list[DdpcrWell] = []
    done: set[str] = set()
    for rec in table.records:
        if rec.has_counts:
            out.append(quantify_record(rec, inputs=inputs, source=table.path, **common))
            continue
        amp_path = amplitude_file_for(table.path, rec.well)
        if amp_path is None:
            raise InputError("no droplet counts (Positives/Negatives empty) and no amplitude file "
                             f"{Path(table.path).stem}_{rec.well}_Amplitude.csv beside the table: empty well",
                             file=table.path, place=f"line {rec.line}, well {rec.well}")
        if rec.well in done:
            continue
        done.add(rec.well)
        names = {r.channel: r.target for r in table.records if r.well == rec.well and r.channel in (1, 2)}
        out.extend(quantify_amplitudes(
            read_amplitudes(amp_path), threshold_ch1=threshold_ch1, threshold_ch2=threshold_ch2,
            use_file_calls=use_file_calls, classification=classification,
            targets=(names.get(1) or "ch1", names.get(2) or "ch2"),
            sample=rec.sample, inputs=inputs + [file_input(amp_path)], **common))
    return out


def quantify_file(path: str | Path, **options: Any) -> list[DdpcrWell]:
    """Quantify a well table or a droplet amplitude file (options as for the two functions above)."""
    data = read_ddpcr(path)
    if isinstance(data, DropletAmplitudes):
        return quantify_amplitudes(data, **options)
    return quantify_table(data, **options)


@dataclass
class MergedWell:
    """Replicate wells of one sample and target, droplets pooled, with Poisson and total error."""

    sample: str
    target: str
    wells: list[str]
    positives: int
    accepted_droplets: int
    copies_per_ul: float | None
    poisson_ci_low: float | None
    poisson_ci_high: float | None
    replicate_se: float | None
    total_ci_low: float | None
    total_ci_high: float | None
    droplet_volume_nl: float
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def lambda_variance(self) -> float:
        return lambda_variance(self.positives, self.accepted_droplets)

    def to_dict(self) -> dict[str, Any]:
        d = _plain_fields(self, skip=("provenance", "checks"))
        d.update(
            valid=self.valid, checks=[c.to_dict() for c in self.checks], provenance=self.provenance.to_dict()
        )
        return d


def merge_wells(wells: list[DdpcrWell], z: float = Z95) -> MergedWell:
    """Pool replicate wells: λ from summed droplets; total error = larger of Poisson and z·replicate SE."""
    if not wells:
        raise InputError("no wells to merge")
    volumes = {w.droplet_volume_nl for w in wells}
    if len(volumes) > 1:
        raise InputError(f"replicate wells with different droplet volumes {sorted(volumes)} cannot be merged")
    vol = volumes.pop()
    pos = sum(w.positives for w in wells)
    acc = sum(w.accepted_droplets for w in wells)
    est = poisson_concentration(pos, acc, vol, z)
    concs = [w.copies_per_ul for w in wells]
    se = None
    if len(wells) >= 2 and all(c is not None for c in concs):
        se = float(np.std(np.asarray(concs, float), ddof=1) / math.sqrt(len(wells)))
    t_lo, t_hi = est.ci_low, est.ci_high
    if se is not None and est.copies_per_ul is not None and t_lo is not None and t_hi is not None:
        c = est.copies_per_ul
        t_lo = max(0.0, c - max(c - t_lo, z * se))
        t_hi = c + max(t_hi - c, z * se)
    min_droplets = int(wells[0].provenance.parameters.get("min_droplets", DEFAULT_MIN_DROPLETS))
    checks = [
        ValidityCheck(
            "replicate_wells_valid",
            all(w.valid for w in wells),
            ", ".join(f"{w.well}: {'valid' if w.valid else 'invalid'}" for w in wells),
        )
    ]
    checks += [c for c in well_checks(pos, acc, min_droplets) if c.name == "not_saturated"]
    inputs: dict[str, InputFile] = {}
    for w in wells:
        for i in w.provenance.inputs:
            inputs[i.path] = i
    prov = Provenance(
        engine="ddpcr.merge",
        engine_version=__version__,
        parameters={
            "droplet_volume_nl": vol,
            "z": z,
            "min_droplets": min_droplets,
            "wells": [w.well for w in wells],
        },
        inputs=list(inputs.values()),
    )
    return MergedWell(
        sample=wells[0].sample,
        target=wells[0].target,
        wells=[w.well for w in wells],
        positives=pos,
        accepted_droplets=acc,
        copies_per_ul=est.copies_per_ul,
        poisson_ci_low=est.ci_low,
        poisson_ci_high=est.ci_high,
        replicate_se=se,
        total_ci_low=t_lo,
        total_ci_high=t_hi,
        droplet_volume_nl=vol,
        provenance=prov,
        checks=checks,
    )


def select_wells(wells: list[DdpcrWell], target: str, sample: str | None = None) -> list[DdpcrWell]:
    """The wells of one target (by name, or ``ch1``/``ch2``), optionally of one sample."""
    key = target.strip().lower()
    chosen = [
        w for w in wells if w.target.lower() == key or (key in ("ch1", "ch2") and w.channel == int(key[2]))
    ]
    if sample is not None:
        chosen = [w for w in chosen if w.sample == sample]
    return chosen


def merge_by_sample(wells: list[DdpcrWell], target: str) -> dict[str, MergedWell]:
    """Merge the wells of one target per sample (file order kept); InputError when none match."""
    chosen = select_wells(wells, target)
    if not chosen:
        names = sorted({w.target for w in wells})
        raise InputError(f"no well of target {target!r} (targets present: {', '.join(names)}; or ch1/ch2)")
    groups: dict[str, list[DdpcrWell]] = {}
    for w in chosen:
        groups.setdefault(w.sample, []).append(w)
    return {sample: merge_wells(ws) for sample, ws in groups.items()}


def resolve_droplet_volume(droplet_volume_nl: float | None = None, preset: str | None = None) -> float:
    """The droplet volume from an explicit value, a software preset, or the 0.85 nL default."""
    if droplet_volume_nl is not None and preset is not None:
        raise InputError("give either a droplet volume or a preset, not both")
    if preset is not None:
        if preset not in DROPLET_VOLUME_PRESETS_NL:
            raise InputError(
                f"unknown droplet volume preset {preset!r} (known: {', '.join(DROPLET_VOLUME_PRESETS_NL)})"
            )
        return DROPLET_VOLUME_PRESETS_NL[preset]
    return DEFAULT_DROPLET_VOLUME_NL if droplet_volume_nl is None else droplet_volume_nl


def merge_replicates(wells: list[DdpcrWell]) -> list[MergedWell]:
    """Merge every (sample, target) group of wells, in order of first appearance."""
    groups: dict[tuple[str, str], list[DdpcrWell]] = {}
    for w in wells:
        groups.setdefault((w.sample, w.target), []).append(w)
    return [merge_wells(ws) for ws in groups.values()]
