"""Simulated AAV long-read data sets with known truth for every read class, HiFi-like or nanopore-like.

A synthetic vector plasmid (random backbone and cassette between AAV2 ITRs; sc constructs carry a mutant
ITR lacking the D region) and synthetic packaging plasmids, lambda and host sequences are generated from
the seed; molecules of each class are cut from them and sequencing errors are added. Every ITR copy of a
molecule draws its flip/flop configuration independently (both genome ends, ss and sc; on a folded sc
genome the two terminal wtITR copies are drawn apart), and the truth records the configuration of each
terminal ITR in the frame the classifier reports it (left = ITR1 of the plus-strand arm).
Everything is deterministic for a given seed. Error models (per base):
HiFi-like 0.1% substitutions, 0.05% insertions, 0.05% deletions; nanopore-like 1.5% substitutions,
1.0% insertions, 1.5% deletions (about 96% identity).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgtqc.seq.aav.classes import CLASSES
from cgtqc.seq.reads import open_text_output, revcomp

# AAV2 left ITR, flip configuration (public sequence, GenBank AF043303).
AAV2_ITR_LEFT_FLIP = (
    "TTGGCCACTCCCTCTCTGCGCGCTCGCTCGCTCACTGAGGCCGGGCGACCAAAGGTCGCCCGACGCCCGGGCTTTGCCCGGGCGG"
    "CCTCAGTGAGCGAGCGAGCGCGCAGAGAGGGAGTGGCCAACTCCATCACTAGGGGTTCCT"
)
HAIRPIN = slice(43, 82)  # B/C hairpin region inverted between flip and flop (left ITR coordinates)
D_REGION = 20  # bases of the D region removed in the mutant ITR

ERROR_MODELS = {
    "hifi": {"sub": 0.001, "ins": 0.0005, "del": 0.0005, "qual": 40},
    "nanopore": {"sub": 0.015, "ins": 0.010, "del": 0.015, "qual": 14},
}
# classes every vector type can produce: from ITR-only molecules to unmapped reads, in catalogue order
COMMON = CLASSES[CLASSES.index("itr_only") :]
# single-stranded genomes and their defects (catalogue order up to the self-complementary classes)
SS_CLASSES = CLASSES[: CLASSES.index("sc_full")] + COMMON
# self-complementary vectors: sc classes first, then the genome defects an sc vector shares (not "full")
SC_CLASSES = ("sc_full", "sc_partial", "sc_monomer") + CLASSES[1 : CLASSES.index("sc_full")] + COMMON
LOT_MIX = {
    "full": 0.62,
    "full_itr_defect": 0.04,
    "truncated_5p": 0.06,
    "truncated_3p": 0.04,
    "internal_deletion": 0.02,
    "snapback_symmetric": 0.015,
    "snapback_asymmetric": 0.015,
    "dimer": 0.01,
    "sc_monomer": 0.02,
    "itr_only": 0.005,
    "itr_concatemer": 0.005,
    "read_through": 0.02,
    "reverse_packaging": 0.01,
    "backbone": 0.02,
    "helper": 0.01,
    "repcap": 0.015,
    "host": 0.03,
    "lambda": 0.02,
    "chimeric": 0.02,
    "unmapped": 0.02,
}


def _flop(left_itr: str) -> str:
    mid = left_itr[HAIRPIN]
    return left_itr[: HAIRPIN.start] + revcomp(mid) + left_itr[HAIRPIN.stop :]


@dataclass
class SimConstruct:
    """The synthetic references and the plasmid variants for each (ITR1, ITR2) configuration."""

    vector_type: str
    plasmid: dict[tuple[str, str], str]
    s1: int
    e1: int
    s2: int
    e2: int
    refs: dict[str, str]  # packaging, lambda, host sequences by name
    labels: dict[str, str]
    vector_index: object = None  # mappy index of the vector plasmid (real references only)
    configs: tuple[tuple[str, ...], tuple[str, ...]] = (("flip", "flop"), ("flip", "flop"))
    vector_name: str = "simAAV"
    bed_text: str = ""

    @property
    def length(self) -> int:
        return len(next(iter(self.plasmid.values())))


def _random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(np.array(list("ACGT"))[rng.integers(0, 4, n)])


def make_construct(vector_type: str, rng: np.random.Generator) -> SimConstruct:
    """Synthetic plasmid: backbone 1.5 kb, ITR1, cassette (ss 4.4 kb, sc 2.0 kb), ITR2, backbone 1.5 kb."""
    if vector_type not in ("ss", "sc"):
        raise ValueError("vector_type must be ss or sc")
    bb_left, bb_right = _random_dna(rng, 1500), _random_dna(rng, 1500)
    cassette = _random_dna(rng, 4400 if vector_type == "ss" else 2000)
    left = {"flip": AAV2_ITR_LEFT_FLIP, "flop": _flop(AAV2_ITR_LEFT_FLIP)}
    right = {k: revcomp(v) for k, v in left.items()}  # the right ITR reads the left one reverse-complemented
    if vector_type == "sc":
        right = {k: v[D_REGION:] for k, v in right.items()}
    plasmid = {(a, b): bb_left + left[a] + cassette + right[b] + bb_right for a in left for b in right}
    s1 = len(bb_left)
    e1 = s1 + len(AAV2_ITR_LEFT_FLIP)
    s2 = e1 + len(cassette)
    e2 = s2 + len(right["flip"])
    refs = {
        "pRepCap": _random_dna(rng, 7000),
        "pHelper": _random_dna(rng, 11600),
        "Lambda": _random_dna(rng, 20000),
        "chrS": _random_dna(rng, 200000),
    }
    labels = {"pRepCap": "repcap", "pHelper": "helper", "Lambda": "lambda", "chrS": "host"}
    return SimConstruct(vector_type, plasmid, s1, e1, s2, e2, refs, labels)


def construct_from_files(
    vector: Path, annotation: Path, packaging: Path | None, host: Path | None, vector_type: str
) -> SimConstruct:
    """Simulation references from real files: the vector's ITRs from the BED annotation, flip and flop
    plasmid variants from the AAV2 hairpin, packaging labels from sequence names, host as is."""
    import mappy

    from cgtqc.seq.aav.construct import load_construct
    from cgtqc.seq.align import label_for_name, read_fasta

    con = load_construct(vector, annotation)
    v1, v2 = dict(con.itr1.variants), dict(con.itr2.variants)
    plasmid = {}
    for a, sa in v1.items():
        for b, sb in v2.items():
            seq = con.seq
            seq = seq[: con.itr1.start] + sa + seq[con.itr1.end : con.itr2.start] + sb + seq[con.itr2.end :]
            plasmid[(a, b)] = seq
    refs, labels = {}, {}
    for path, fixed in ((packaging, None), (host, "host")):
        for name, seq in read_fasta(path) if path else []:
            refs[name], labels[name] = seq, fixed or label_for_name(name)
    return SimConstruct(
        vector_type,
        plasmid,
        con.itr1.start,
        con.itr1.end,
        con.itr2.start,
        con.itr2.end,
        refs,
        labels,
        mappy.Aligner(seq=con.seq),
        (tuple(v1), tuple(v2)),
        con.name,
        Path(annotation).read_text(),
    )


@dataclass
class Molecule:
    seq: str
    cls: str
    detail: str = ""
    left: str = ""
    right: str = ""
    folded: bool = False  # two arms on opposite strands: reverse reads swap the arms' terminal ITRs


def _molecule(cls: str, c: SimConstruct, rng: np.random.Generator) -> Molecule:  # noqa: C901 - one branch per class
    cfg = (str(rng.choice(list(c.configs[0]))), str(rng.choice(list(c.configs[1]))))
    p = c.plasmid[cfg]
    # the returning arm of a folded molecule carries its own copy of ITR1 (the fold ITR is shared)
    cfg_back = str(rng.choice(list(c.configs[0])))
    pb = c.plasmid[(cfg_back, cfg[1])]
    s1, e1, s2, e2, n = c.s1, c.e1, c.s2, c.e2, c.length
    sc = c.vector_type == "sc"
    ri = rng.integers

    def genome_fold(seq_a: str, seq_b: str) -> str:  # arm + reverse complement of the returning arm
        return seq_a + revcomp(seq_b)

    def fold_back(a: int, b: int) -> str:  # returning arm cut from the plasmid with its own ITR1 copy
        return pb[a:b]

    def cut(a: int, b: int) -> str:  # circular plasmid
        return (p + p + p)[a + n : b + n]

    if cls == "sc_full":  # both read ends carry an ITR1 copy, each with its own configuration
        seq = genome_fold(p[s1:e2], fold_back(s1, s2))
        return Molecule(seq, cls, left=cfg[0], right=cfg_back, folded=True)
    if cls in ("full", "sc_monomer"):  # one strand ITR1-cassette-ITR2 (sc_monomer: unfolded, mITR at 3')
        return Molecule(p[s1:e2], cls, left=cfg[0], right=cfg[1])
    if cls == "full_itr_defect":
        which = 0 if sc else int(ri(0, 2))  # sc: the wild-type ITR at both read ends
        a, b = (s1, e1) if which == 0 else (s2, e2)
        lo, hi, q = s1, e2, p
        if rng.random() < 0.5:  # internal deletion of 10-40 bp inside the ITR
            k = int(ri(10, 41))
            x = int(ri(a + 10, b - 10 - k))
            q = p[:x] + p[x + k :]
            hi = e2 - k
            detail = f"itr{which + 1}_del{k}"
        else:  # outer end truncated by 15-100 bp
            k = int(ri(15, 101))
            lo, hi = (s1 + k, e2) if which == 0 else (s1, e2 - k)
            detail = f"itr{which + 1}_trunc{k}"
        seq = genome_fold(q[lo:hi], pb[s1:s2]) if sc else q[lo:hi]  # one defective ITR copy
        return Molecule(seq, cls, detail)
    if cls == "truncated_5p":
        x = int(ri(e1 + 100, s2 - 300))
        return Molecule(p[x:e2], cls, f"start{x}")
    if cls == "truncated_3p":
        y = int(ri(e1 + 300, s2 - 100))
        return Molecule(p[s1:y], cls, f"end{y}")
    if cls == "internal_deletion":
        k = int(ri(250, min(1500, (s2 - e1) // 2)))
        a = int(ri(e1 + 200, s2 - 200 - k))
        if sc:
            seq = genome_fold(p[s1:a] + p[a + k : e2], pb[s1:a] + pb[a + k : s2])
            return Molecule(seq, cls, f"del{a}:{k}")
        return Molecule(p[s1:a] + p[a + k : e2], cls, f"del{a}:{k}")
    if cls in ("snapback_symmetric", "snapback_asymmetric"):
        span = s2 - e1
        if sc:  # fold inside the cassette, arms running back to ITR1
            t = int(ri(e1 + span // 3, s2 - span // 4))
            a_end = s1
            b_end = s1 if cls == "snapback_symmetric" else int(ri(e1 + 200, t - 300))
            return Molecule(genome_fold(p[a_end:t], pb[b_end : t - 40]), cls, f"fold{t}")
        x = int(ri(e1 + 400, s2 - 600))  # ss: fold at ITR2, arms ending inside the cassette
        y = x if cls == "snapback_symmetric" else int(min(s2 - 200, x + max(300, 0.3 * (s2 - x))))
        return Molecule(genome_fold(p[x:e2], p[y:s2]), cls, f"arms{x},{y}")
    if cls == "dimer":
        if sc:
            mono = genome_fold(p[s1:e2], pb[s1:s2])
            return Molecule(mono + mono, cls, "tandem_sc")
        return Molecule(genome_fold(p[s1:e2], pb[s1:s2]), cls, "tail_to_tail")
    if cls == "sc_partial":
        x, y = int(ri(e1 + 100, s2 - 400)), int(ri(e1 + 100, s2 - 400))
        return Molecule(genome_fold(p[x:e2], p[y:s2]), cls, f"arms{x},{y}")
    if cls == "itr_only":
        seq = p[s1:e1] if rng.random() < 0.5 else p[s2:e2]
        return Molecule(seq, cls)
    if cls == "itr_concatemer":
        unit = p[s1:e1]
        k = int(ri(2, 5))
        return Molecule("".join(unit if i % 2 == 0 else revcomp(unit) for i in range(k)), cls, f"copies{k}")
    if cls == "read_through":
        k = int(ri(200, 1400))
        return Molecule(cut(s1, e2 + k) if rng.random() < 0.5 else cut(s1 - k, e2), cls, f"into_backbone{k}")
    if cls == "reverse_packaging":
        k = int(ri(800, 1400))
        return Molecule(cut(s2, e2 + k) if rng.random() < 0.5 else cut(s1 - k, e1), cls, f"backbone{k}")
    if cls == "backbone":
        room = n - (e2 - s1) - 300
        k = int(ri(min(500, room // 2), min(2200, room)))
        x = int(ri(e2 + 150, n + s1 - 150 - k + 1))
        return Molecule(cut(x, x + k), cls, f"at{x % n}")
    if cls in ("helper", "repcap", "host", "lambda"):
        name = str(rng.choice([k for k, v in c.labels.items() if v == cls]))
        return Molecule(_fragment(c, name, rng), cls, name)
    if cls == "chimeric":
        partner = "host" if rng.random() < 0.5 else "helper"
        name = str(rng.choice([k for k, v in c.labels.items() if v == partner]))
        other = _fragment(c, name, rng, (800, 2500))
        g = p[s1 : int(ri(e1 + 800, s2))]
        parts = [g, other] if rng.random() < 0.5 else [other, g]
        return Molecule("".join(parts), cls, f"vector+{partner}")
    if cls == "unmapped":
        return Molecule(_random_dna(rng, int(ri(800, 4000))), cls)
    raise ValueError(f"unknown class {cls}")


def _fragment(
    c: SimConstruct, name: str, rng: np.random.Generator, length: tuple[int, int] = (800, 5000)
) -> str:
    """A fragment of a non-vector reference; fragments sharing >= 100 bp with the vector plasmid (common
    plasmid backbones) are redrawn, since no method can tell their source."""
    ref = c.refs[name]
    for _ in range(100):
        k = int(rng.integers(length[0], min(length[1], len(ref) - 1)))
        x = int(rng.integers(0, len(ref) - k))
        frag = ref[x : x + k]
        if c.vector_index is None or not any(h.mlen >= 100 for h in c.vector_index.map(frag)):
            return frag
    raise ValueError(f"no fragment of {name} unrelated to the vector plasmid")


_LUT = np.zeros(256, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _LUT[_b] = _i
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def add_errors(seq: str, model: str, rng: np.random.Generator) -> str:
    """Substitutions, insertions and deletions at the model's per-base rates (vectorised)."""
    m = ERROR_MODELS[model]
    arr = np.frombuffer(seq.encode(), dtype=np.uint8).copy()
    r = rng.random(arr.size)
    sub = r < m["sub"]
    dele = (r >= m["sub"]) & (r < m["sub"] + m["del"])
    ins = (r >= m["sub"] + m["del"]) & (r < m["sub"] + m["del"] + m["ins"])
    if sub.any():
        arr[sub] = _BASES[(_LUT[arr[sub]] + rng.integers(1, 4, int(sub.sum()))) % 4]
    counts = np.where(dele, 0, 1 + ins.astype(np.int64))
    out = np.repeat(arr, counts)
    if ins.any():
        ends = np.cumsum(counts)
        pos = ends[ins] - 1  # the inserted base follows the original one
        out[pos] = _BASES[rng.integers(0, 4, pos.size)]
    return out.tobytes().decode()


@dataclass
class Simulation:
    """Where the files are and what was simulated."""

    out_dir: Path
    reads: Path
    truth: Path
    vector: Path
    annotation: Path
    packaging: Path
    host: Path
    flipflop: Path
    vector_type: str
    error_model: str
    seed: int
    truth_counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def _write_fasta(path: Path, records: dict[str, str]) -> Path:
    with open(path, "w") as fh:
        for name, seq in records.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 80):
                fh.write(seq[i : i + 80] + "\n")
    return path


def class_plan(
    n_reads: int,
    classes: tuple[str, ...],
    mix: str,
    rng: np.random.Generator,
    weights: dict[str, float] | None = None,
) -> list[str]:
    """Classes for each read: equal numbers ('balanced') or the LOT_MIX proportions ('lot'), shuffled.

    ``weights`` (class -> relative weight) overrides LOT_MIX entries of a 'lot' mix; sc_full weighs as
    'full' unless given.
    """
    if mix == "balanced":
        plan = [classes[i % len(classes)] for i in range(n_reads)]
    elif mix == "lot":
        table = {**LOT_MIX, **(weights or {})}
        names = [c for c in table if c in classes]
        names += ["sc_full"] if "sc_full" in classes and "sc_full" not in names else []
        w = np.array([table.get(c, table["full"]) for c in names])
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("class weights must be >= 0 with a positive sum")
        plan = list(rng.choice(names, size=n_reads, p=w / w.sum()))
    else:
        raise ValueError("mix must be balanced or lot")
    rng.shuffle(plan)
    return [str(x) for x in plan]


def simulate_aav(
    out_dir: Path,
    n_reads: int = 5000,
    vector_type: str = "ss",
    error_model: str = "hifi",
    seed: int = 1,
    mix: str = "balanced",
    classes: tuple[str, ...] | None = None,
    compress: bool = True,
    references: dict[str, Path] | None = None,
    weights: dict[str, float] | None = None,
) -> Simulation:
    """Write references, reads (FASTQ[.gz]) and per-read truth (truth.tsv) into ``out_dir``.

    ``references`` (keys vector, annotation, packaging, host) simulates from real sequences instead of the
    synthetic construct; ``weights`` (class -> relative weight) overrides the LOT_MIX of a 'lot' mix.
    """
    if error_model not in ERROR_MODELS:
        raise ValueError(f"error model must be one of {sorted(ERROR_MODELS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if references:
        c = construct_from_files(
            references["vector"],
            references["annotation"],
            references.get("packaging"),
            references.get("host"),
            vector_type,
        )
    else:
        c = make_construct(vector_type, rng)
    if classes is None:
        classes = SS_CLASSES if vector_type == "ss" else SC_CLASSES
    if mix == "lot" and vector_type == "sc":
        classes = tuple(x for x in classes if x != "full")
    bad = [x for x in (*classes, *(weights or {})) if x not in CLASSES]
    if bad:
        raise ValueError(f"unknown classes {bad}")
    first = next(iter(c.plasmid))
    vec = _write_fasta(out_dir / "vector.fasta", {c.vector_name: c.plasmid[first]})
    itr2_label = "mITR" if vector_type == "sc" else "ITR2"
    bed = out_dir / "annotation.bed"
    bed.write_text(
        c.bed_text
        or f"simAAV\t{c.s1}\t{c.e1}\tITR1\nsimAAV\t{c.e1}\t{c.s2}\tcassette\n"
        f"simAAV\t{c.s2}\t{c.e2}\t{itr2_label}\n"
    )
    pack = _write_fasta(
        out_dir / "packaging.fasta", {k: v for k, v in c.refs.items() if c.labels[k] != "host"}
    )
    host = _write_fasta(out_dir / "host.fasta", {k: v for k, v in c.refs.items() if c.labels[k] == "host"})
    flop = _flop(AAV2_ITR_LEFT_FLIP)
    ff = _write_fasta(
        out_dir / "flipflop.fasta",
        {
            "SEQ_LEFT_FLIP": AAV2_ITR_LEFT_FLIP,
            "SEQ_LEFT_FLOP": flop,
            "SEQ_RIGHT_FLIP": revcomp(AAV2_ITR_LEFT_FLIP),
            "SEQ_RIGHT_FLOP": revcomp(flop),
        },
    )
    reads = out_dir / ("reads.fastq.gz" if compress else "reads.fastq")
    truth = out_dir / "truth.tsv"
    qchar = chr(33 + ERROR_MODELS[error_model]["qual"])
    counts: Counter = Counter()
    with open_text_output(reads) as fq, open(truth, "w") as tt:
        tt.write("read_id\tclass\tstrand\tdetail\tleft_config\tright_config\n")
        for i, cls in enumerate(class_plan(n_reads, classes, mix, rng, weights)):
            mol = _molecule(cls, c, rng)
            strand = "+"
            seq = mol.seq
            left, right = mol.left, mol.right
            if cls not in ("unmapped",) and rng.random() < 0.5:
                seq, strand = revcomp(seq), "-"
                if mol.folded:
                    left, right = right, left
            seq = add_errors(seq, error_model, rng)
            name = f"sim{seed}/{i}/ccs"
            fq.write(f"@{name}\n{seq}\n+\n{qchar * len(seq)}\n")
            tt.write(f"{name}\t{cls}\t{strand}\t{mol.detail}\t{left}\t{right}\n")
            counts[cls] += 1
    return Simulation(
        out_dir,
        reads,
        truth,
        vec,
        bed,
        pack,
        host,
        ff,
        vector_type,
        error_model,
        seed,
        {k: counts[k] for k in classes if counts[k]},
    )


def read_truth(path: Path) -> dict[str, dict[str, str]]:
    """read_id → truth record."""
    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
        return {
            row[0]: dict(zip(header, row, strict=True)) for row in (ln.rstrip("\n").split("\t") for ln in fh)
        }
