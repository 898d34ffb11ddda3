"""Lots through review and signature on a real database (SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import text

from cgtqc import __version__
from cgtqc.errors import DispositionError, InputError, PermissionDenied
from cgtqc.lots import disposition, service, signatures
from cgtqc.lots.coa import write_coa
from cgtqc.lots.isbt128 import check_character
from cgtqc.results import Measurement, Provenance
from cgtqc.specs import templates
from cgtqc.store import audit
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.models import Result
from cgtqc.store.users import create_user

PW = "correct-horse"
GOOD = {
    "viable_cell_count": 900.0,
    "transduced_cells_pct": 40.0,
    "appearance": "Conforms",
    "viability": 92.0,
    "cd3_pct": 95.0,
    "car_positive_pct": 35.0,
    "cd4_cd8_ratio": 1.1,
    "car_t_dose": 1.5,
    "vcn": 2.0,
    "transgene_identity": "Conforms",
    "potency_ifng": 100.0,
    "rcl": "Not detected",
    "residual_beads": 3.0,
    "endotoxin": 0.1,
    "sterility_rapid": "No growth",
    "mycoplasma": "Not detected",
}
DIN = "W123426000009"
DIN_FULL = DIN + check_character(DIN)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        u = f"sqlite:///{tmp_path / 'lots.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        from sqlalchemy import create_engine

        name = f"t_{abs(hash(str(tmp_path))) % 10**9}"
        with create_engine(base, isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        u = base.rsplit("/", 1)[0] + f"/{name}"
    migrate(u)
    with session_scope(u) as s:
        for name, role in [("ann", "analyst"), ("rex", "reviewer"), ("quinn", "qa"), ("quill", "qa")]:
            create_user(s, name, name.title(), role, PW, by="test")
    return u


def m(cqa, value, unit=None):
    spec = templates()["car_t"]
    return Measurement(
        cqa, value, spec.line(cqa, None).unit if unit is None else unit, Provenance("test", __version__)
    )


def enter_all(u, lot_number="L1", skip=(), **over):
    spec = templates()["car_t"]
    with session_scope(u) as s:
        service.create_lot(s, "ann", lot_number, "car_t", "Site A", din=DIN_FULL, coi_id="COI-1")
        for ln in spec.lines:
            if ln.cqa in skip:
                continue
            service.add_result(s, "ann", lot_number, m(ln.cqa, over.get(ln.cqa, GOOD[ln.cqa])), ln.stage)


def test_release_after_review_and_qa_signature(url, tmp_path):
    enter_all(url)
    with session_scope(url) as s:
        with pytest.raises(DispositionError, match="not reviewed"):
            disposition.sign(s, "quinn", PW, "L1", "released")
    with session_scope(url) as s:
        disposition.review(s, "rex", PW, "L1")
    with session_scope(url) as s:
        sig = disposition.sign(s, "quinn", PW, "L1", "released")
        assert sig.content_hash == signatures.content_hash(service.get_lot(s, "L1"))
        assert service.get_lot(s, "L1").status == "released"
        html = write_coa(s, "L1", tmp_path / "c.html", tmp_path / "c.pdf")
    assert "Quinn" in html and "released" in html and "Conforms" in html
    assert (tmp_path / "c.pdf").read_bytes()[:5] == b"%PDF-"
    with session_scope(url) as s:
        assert audit.verify(s) == [] and signatures.verify_signatures(s) == []


def test_separation_of_duties(url):
    enter_all(url)
    with session_scope(url) as s:
        create_user(s, "ava", "Ava", "reviewer", PW, by="test")
    with session_scope(url) as s:  # a reviewer who entered a result may not review the lot
        service.add_result(s, "ava", "L1", m("vcn", 2.2), replace_reason="recount")
    with session_scope(url) as s, pytest.raises(PermissionDenied, match="different person"):
        disposition.review(s, "ava", PW, "L1")
    with session_scope(url) as s, pytest.raises(PermissionDenied, match="needs reviewer or qa"):
        disposition.review(s, "ann", PW, "L1")
    with session_scope(url) as s:
        disposition.review(s, "rex", PW, "L1")
    with session_scope(url) as s, pytest.raises(PermissionDenied, match="needs qa"):
        disposition.sign(s, "rex", PW, "L1", "released")
    with session_scope(url) as s, pytest.raises(PermissionDenied, match="wrong password"):
        disposition.sign(s, "quinn", "not-the-password", "L1", "released")


def test_oos_blocks_release_but_can_be_rejected(url):
    enter_all(url, viability=79.94)  # rounds to 79.9 < 80.0
    with session_scope(url) as s:
        disposition.review(s, "rex", PW, "L1")
    with session_scope(url) as s:
        ev = disposition.evaluate_lot(s, service.get_lot(s, "L1"))
        assert [o.line.cqa for o in ev.out_of_specification] == ["viability"]
        with pytest.raises(DispositionError, match="viability: fail"):
            disposition.sign(s, "quinn", PW, "L1", "released")
    with session_scope(url) as s:
        disposition.sign(s, "quinn", PW, "L1", "rejected")
        assert service.get_lot(s, "L1").status == "rejected"


def test_changing_a_signed_result_voids_the_signature(url):
    enter_all(url)
    with session_scope(url) as s:
        disposition.review(s, "rex", PW, "L1")
    with session_scope(url) as s:
        disposition.sign(s, "quinn", PW, "L1", "released")
    with session_scope(url) as s, pytest.raises(InputError, match="give a reason"):
        service.add_result(s, "ann", "L1", m("vcn", 2.5))
    with session_scope(url) as s:
        added = service.add_result(s, "ann", "L1", m("vcn", 2.5), replace_reason="transcription error")
        assert added.voided_signatures == 2
        lot = service.get_lot(s, "L1")
        sigs = signatures.signatures_of(s, lot)
        assert all(g.void and "transcription error" in g.void_reason for g in sigs)
        assert lot.status == "open"
        assert any("vcn" in b and "not reviewed" in b for b in disposition.evaluate_lot(s, lot).blockers)
    with session_scope(url) as s:
        assert audit.verify(s) == [] and signatures.verify_signatures(s) == []


def test_pending_rapid_sterility_release_at_risk_and_follow_up(url):
    enter_all(url, skip=("sterility_rapid",))
    with session_scope(url) as s:
        with pytest.raises(InputError, match="rationale"):
            service.add_result(s, "ann", "L1", m("sterility_rapid", None))
        service.add_result(s, "ann", "L1", m("sterility_rapid", None), rationale="7-day shelf life")
    with session_scope(url) as s:
        disposition.review(s, "rex", PW, "L1")
    with session_scope(url) as s:
        disposition.sign(s, "quinn", PW, "L1", "released")
    with session_scope(url) as s:
        added = service.add_result(s, "ann", "L1", m("sterility_rapid", "Growth"))
        assert added.follow_up and added.voided_signatures == 0
        lot = service.get_lot(s, "L1")
        notes = service.notifications_of(s, lot)
        assert notes[-1].severity == "alert" and "OUT OF SPECIFICATION" in notes[-1].message
        assert lot.status == "released"
        assert signatures.verify_signatures(s) == []


def test_pending_not_allowed_for_tests_required_before_release(url):
    with session_scope(url) as s:
        service.create_lot(s, "ann", "L2", "car_t", "Site A", din=DIN_FULL, coi_id="COI-2")
    with session_scope(url) as s, pytest.raises(InputError, match="pending result"):
        service.add_result(s, "ann", "L2", m("mycoplasma", None), rationale="later")


def test_bad_input_writes_nothing(url):
    with session_scope(url) as s:
        service.create_lot(s, "ann", "L3", "car_t", "Site A", din=DIN_FULL, coi_id="COI-3")
    for bad, match in [
        (m("viability", "abc"), "not a number"),
        (m("endotoxin", 0.1, "%"), "cannot be converted"),
        (m("endotoxin", 0.1, "parsecs"), "unknown unit"),
    ]:
        with pytest.raises(InputError, match=match), session_scope(url) as s:
            service.add_result(s, "ann", "L3", bad)
    with session_scope(url) as s:
        assert s.query(Result).count() == 0
        assert audit.verify(s) == []


def test_autologous_lot_needs_valid_din(url):
    with session_scope(url) as s, pytest.raises(InputError, match="check character"):
        service.create_lot(s, "ann", "L4", "car_t", "Site A", din=DIN + "0", coi_id="COI-4")
    with session_scope(url) as s, pytest.raises(InputError, match="chain-of-identity"):
        service.create_lot(s, "ann", "L4", "car_t", "Site A")
    with session_scope(url) as s:
        lot = service.create_lot(s, "ann", "L4", "car_t", "Site A", din=DIN_FULL, coi_id="COI-4")
        assert [x.chain_step for x in lot.samples] == ["collection", "manufacture", "infusion"]
        service.verify_identity(lot, DIN_FULL, "COI-4")
        with pytest.raises(PermissionDenied, match="do not infuse"):
            service.verify_identity(lot, DIN_FULL, "COI-5")


def test_signature_cannot_be_moved_to_another_lot(url):
    enter_all(url)
    enter_all(url, lot_number="L5")
    with session_scope(url) as s:
        sig = disposition.review(s, "rex", PW, "L1")
        sig_id = sig.id
    other = None
    with session_scope(url) as s:
        other = service.get_lot(s, "L5").id
        s.execute(text("UPDATE signatures SET record_id = :o WHERE id = :i"), {"o": other, "i": sig_id})
    with session_scope(url) as s:
        assert any(f"signature #{sig_id}" in p for p in signatures.verify_signatures(s))
        assert any(p.entry_id is not None and "record_id" in p.message for p in audit.verify(s))
