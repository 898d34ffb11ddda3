"""Simulated ddPCR runs with known truth: droplet amplitude files and well tables.

Molecules are Poisson-distributed into droplets. Three species cover every application: molecules
carrying target A only (channel 1, FAM), B only (channel 2, HEX) and A and B linked on one molecule
(an intact vector genome). Unlinked duplex assays (transgene vs RPP30 on digested gDNA) set only the
A-only and B-only rates. Amplitudes follow the look of QX200 data: a tight negative cluster, a positive
cluster ~6x higher, spectral crosstalk of a positive channel into the other, and a little "rain"
(positive droplets amplifying late, amplitudes spread between the clusters). Everything is drawn from
one ``numpy.random.Generator``, so a seed fixes the files byte for byte.

Harder duplex wells (``DUPLEX_CHALLENGE``, or set the fields): crosstalk proportional to the other
channel's signal (``crosstalk_fraction_*``, which tilts the clusters as spectral overlap does), linked rain
(a late double-positive droplet is dim in both channels together, so its rain runs along the diagonal
towards the negative cluster) and negative rain (negative droplets with a raised baseline). Unequal
cluster sizes come from the three molecule rates. These extras draw random numbers only when switched on,
so the default model's files are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgtqc.assays.ddpcr.engine import ClusterCounts, cluster_counts, poisson_concentration


@dataclass(frozen=True)
class AmplitudeModel:
    """Cluster centres and spreads (arbitrary fluorescence units) of a QX200-like reader."""

    neg_ch1: float = 1300.0
    pos_ch1: float = 9000.0
    neg_ch2: float = 1400.0
    pos_ch2: float = 6200.0
    sd_neg: float = 110.0
    sd_pos: float = 300.0
    crosstalk_2_into_1: float = 500.0  # a HEX-positive droplet looks brighter in FAM
    crosstalk_1_into_2: float = 250.0
    rain_fraction: float = 0.003  # of positive droplets
    crosstalk_fraction_2_into_1: float = 0.0  # of the ch2 signal above its negative level, added to ch1
    crosstalk_fraction_1_into_2: float = 0.0
    linked_rain: bool = False  # rain of double-positive droplets is dim in both channels together
    negative_rain_fraction: float = 0.0  # of negative droplets, drawn up to 4 SD above the negative level


#: a hard duplex: crosstalk that moves the single-positive clusters a third of the way, 3% rain, linked
#: rain along the diagonal and a little negative rain (the look of the public ``small`` wells)
DUPLEX_CHALLENGE = AmplitudeModel(
    crosstalk_2_into_1=0.0,
    crosstalk_1_into_2=0.0,
    crosstalk_fraction_2_into_1=0.08,
    crosstalk_fraction_1_into_2=0.3,
    rain_fraction=0.03,
    linked_rain=True,
    negative_rain_fraction=0.003,
)


@dataclass
class SimulatedWell:
    """One simulated well: amplitudes, the true positive calls per droplet and the rates used."""

    well: str
    ch1: np.ndarray
    ch2: np.ndarray
    pos1: np.ndarray
    pos2: np.ndarray
    lambda_a_only: float
    lambda_b_only: float
    lambda_linked: float

    @property
    def n_droplets(self) -> int:
        return int(self.ch1.size)

    @property
    def true_counts(self) -> ClusterCounts:
        return cluster_counts(self.pos1, self.pos2)

    @property
    def lambda_ch1(self) -> float:
        """True copies per droplet seen by channel 1 (A-only plus linked molecules)."""
        return self.lambda_a_only + self.lambda_linked

    @property
    def lambda_ch2(self) -> float:
        return self.lambda_b_only + self.lambda_linked


def simulate_well(
    rng: np.random.Generator,
    well: str,
    *,
    lambda_a_only: float,
    lambda_b_only: float = 0.0,
    lambda_linked: float = 0.0,
    n_droplets: int | None = None,
    model: AmplitudeModel | None = None,
) -> SimulatedWell:
    """Draw one well's droplets (about 14,000-20,000 unless ``n_droplets`` is given)."""
    m = model or AmplitudeModel()
    n = int(n_droplets if n_droplets is not None else rng.integers(14_000, 20_001))
    a = rng.poisson(lambda_a_only, n)
    b = rng.poisson(lambda_b_only, n)
    ab = rng.poisson(lambda_linked, n)
    pos1, pos2 = (a + ab) > 0, (b + ab) > 0
    ch1 = _channel(rng, pos1, m.neg_ch1, m.pos_ch1, m, n)
    ch2 = _channel(rng, pos2, m.neg_ch2, m.pos_ch2, m, n)
    if m.linked_rain:  # a late double positive: one dimming factor for both channels
        both = pos1 & pos2 & (rng.random(n) < m.rain_fraction)
        f = rng.uniform(0.15, 0.9, int(both.sum()))
        ch1[both] = m.neg_ch1 + f * (m.pos_ch1 - m.neg_ch1) + rng.normal(0, m.sd_neg, f.size)
        ch2[both] = m.neg_ch2 + f * (m.pos_ch2 - m.neg_ch2) + rng.normal(0, m.sd_neg, f.size)
    if m.negative_rain_fraction > 0:
        for amp, mu, pos in ((ch1, m.neg_ch1, pos1), (ch2, m.neg_ch2, pos2)):
            up = ~pos & (rng.random(n) < m.negative_rain_fraction)
            amp[up] = mu + rng.uniform(2 * m.sd_neg, 4 * m.sd_neg, int(up.sum()))
    sig1, sig2 = ch1 - m.neg_ch1, ch2 - m.neg_ch2
    ch1 += pos2 * m.crosstalk_2_into_1
    ch2 += pos1 * m.crosstalk_1_into_2
    if m.crosstalk_fraction_2_into_1 or m.crosstalk_fraction_1_into_2:
        ch1 += m.crosstalk_fraction_2_into_1 * np.clip(sig2, 0, None)
        ch2 += m.crosstalk_fraction_1_into_2 * np.clip(sig1, 0, None)
    return SimulatedWell(
        well, np.round(ch1, 3), np.round(ch2, 3), pos1, pos2, lambda_a_only, lambda_b_only, lambda_linked
    )


def _channel(
    rng: np.random.Generator, pos: np.ndarray, neg_mu: float, pos_mu: float, m: AmplitudeModel, n: int
) -> np.ndarray:
    amp = np.where(pos, rng.normal(pos_mu, m.sd_pos, n), rng.normal(neg_mu, m.sd_neg, n))
    rain = pos & (rng.random(n) < m.rain_fraction)
    amp[rain] = rng.uniform(neg_mu + 4 * m.sd_neg, pos_mu, int(rain.sum()))
    return amp


def write_amplitude_file(
    path: str | Path, w: SimulatedWell, layout: str = "quantasoft", targets: tuple[str, str] = ("1", "2")
) -> Path:
    """Write the well as a QuantaSoft (``Ch1 Amplitude,...,Cluster``) or QX Manager amplitude file."""
    p = Path(path)
    if layout == "quantasoft":
        cluster = np.select([w.pos1 & w.pos2, w.pos1, w.pos2], [3, 2, 4], default=1)
        lines = ["Ch1 Amplitude,Ch2 Amplitude,Cluster"]
        lines += [f"{x:.3f},{y:.3f},{c}" for x, y, c in zip(w.ch1, w.ch2, cluster, strict=True)]
    elif layout == "qx_manager":
        lines = [
            "Target Value of 0 = negative",
            "Target Value of 1 = positive",
            "Target Value of u = unclassified (Advanced Classification Mode)",
            "",
            f"Ch1Amplitude,Ch2Amplitude,{targets[0]},{targets[1]},",
        ]
        lines += [
            f"{x:.3f},{y:.3f},{int(a)},{int(b)},"
            for x, y, a, b in zip(w.ch1, w.ch2, w.pos1, w.pos2, strict=True)
        ]
    else:
        raise ValueError(f"unknown amplitude layout {layout!r}")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


QX_MANAGER_COLUMNS = (
    "Well",
    "Sample description 1",
    "Sample description 2",
    "Sample description 3",
    "Sample description 4",
    "Target",
    "Conc(copies/µL)",
    "Status",
    "TargetType",
    "DyeName(s)",
    "PoissonConfMax",
    "PoissonConfMin",
    "Accepted Droplets",
    "Positives",
    "Negatives",
    "Ch1+Ch2+",
    "Ch1+Ch2-",
    "Ch1-Ch2+",
    "Ch1-Ch2-",
)


def write_qx_manager_table(
    path: str | Path,
    wells: list[SimulatedWell],
    samples: dict[str, str],
    targets: tuple[str, str] = ("1", "2"),
    droplet_volume_nl: float = 0.85,
    thousands: bool = False,
    encoding: str = "utf-8",
) -> Path:
    """Write a QX Manager style well table (two rows per well) from simulated wells' true calls.

    ``thousands`` writes counts as quoted "20,486"; ``encoding`` may be ``utf-8``, ``utf-8-sig``,
    ``cp1252`` or ``mojibake`` (the µ written as the two characters ``Âµ``).
    """

    def q(v: int) -> str:
        return f'"{v:,}"' if thousands else str(v)

    lines = [",".join(QX_MANAGER_COLUMNS)]
    for w in wells:
        c = w.true_counts
        for ch, (target, dye, pos) in enumerate(
            ((targets[0], "FAM", w.pos1), (targets[1], "HEX", w.pos2)), 1
        ):
            npos = int(pos.sum())
            est = poisson_concentration(npos, w.n_droplets, droplet_volume_nl)
            conc = "No Call" if est.copies_per_ul is None else repr(est.copies_per_ul)
            hi = "No Call" if est.ci_high is None else repr(est.ci_high)
            lo = "No Call" if est.ci_low is None else repr(est.ci_low)
            lines.append(
                ",".join(
                    [
                        w.well,
                        samples.get(w.well, ""),
                        "",
                        "",
                        "",
                        target,
                        conc,
                        "OK",
                        "Unknown" if ch == 1 else "Reference",
                        dye,
                        hi,
                        lo,
                        q(w.n_droplets),
                        q(npos),
                        q(w.n_droplets - npos),
                        q(c.pp),
                        q(c.pn),
                        q(c.np_),
                        q(c.nn),
                    ]
                )
            )
    text = "\n".join(lines) + "\n"
    p = Path(path)
    if encoding == "mojibake":
        p.write_bytes(text.replace("µ", "Âµ").encode("utf-8"))
    else:
        p.write_bytes(text.encode(encoding))
    return p


def vcn_well(
    rng: np.random.Generator,
    well: str,
    vcn: float,
    gdna_ng: float = 20.0,
    reaction_volume_ul: float = 20.0,
    droplet_volume_nl: float = 0.85,
    pg_per_diploid_genome: float = 6.6,
) -> SimulatedWell:
    """A duplex VCN well: transgene (ch1) and the two-copy reference RPP30 (ch2) on digested gDNA."""
    genomes = gdna_ng * 1000.0 / pg_per_diploid_genome
    ref_per_ul = 2 * genomes / reaction_volume_ul
    v_ul = droplet_volume_nl / 1000.0
    return simulate_well(
        rng, well, lambda_a_only=vcn / 2 * ref_per_ul * v_ul, lambda_b_only=ref_per_ul * v_ul
    )


def aav_linkage_well(
    rng: np.random.Generator,
    well: str,
    lambda_genomes: float = 0.38,
    intact_fraction: float = 0.79,
    a_only_share: float = 0.4,
    n_droplets: int | None = None,
) -> SimulatedWell:
    """A duplex AAV well: intact genomes carry both amplicons; broken ones only A or only B.

    The percent intact the linkage formula returns is λAB / (λAB + max(λA, λB)) of these rates.
    """
    linked = lambda_genomes * intact_fraction
    broken = lambda_genomes - linked
    return simulate_well(
        rng,
        well,
        lambda_a_only=broken * a_only_share,
        lambda_b_only=broken * (1 - a_only_share),
        lambda_linked=linked,
        n_droplets=n_droplets,
    )
