"""A lot from creation to release through the REST API, on SQLite and PostgreSQL: manual results, a raw-file
upload the engine computes, second-person review, QA signature, the CoA, and an intact audit trail."""

from __future__ import annotations

from cgtqc.engines import registry


def test_release_flow(api, tmp_path):
    created = api.create_msc_lot()
    assert created["status"] == "open" and created["created_by"] == "alice"
    assert {t["cqa"] for t in created["tests"]} >= {"endotoxin", "sterility"}
    api.enter_all("MSC-0001", skip=("endotoxin",))

    # the endotoxin result from a raw plate export: the engine the spec's method picks computes it
    sim = registry()["endotoxin"].make_simulated(tmp_path / "sim", 3, "endotoxin", "msc")
    files = [
        ("files", (p.split("/")[-1], open(p, "rb"), "text/csv")) for ps in sim.inputs.values() for p in ps
    ]
    r = api.post(
        "/lots/MSC-0001/results",
        data={"cqa": "endotoxin", "params": '{"method": "kinetic_chromogenic"}'},
        files=files,
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["engine"] == "endotoxin"
    endo = next(t for t in doc["detail"]["tests"] if t["cqa"] == "endotoxin")
    assert endo["verdict"] == "pass"
    prov = endo["result"]["provenance"]
    assert prov["engine"] == "endotoxin" and len(prov["inputs"]) == 2
    assert all(len(i["sha256"]) == 64 for i in prov["inputs"])

    lot = api.get("/lots/MSC-0001").json()
    assert lot["blockers"] and all("not reviewed" in b for b in lot["blockers"])

    # alice entered the results: she may not review; bob (reviewer) may
    assert api.get("/lots/MSC-0001/signatures/allowed?meaning=reviewed", "alice").json()["allowed"] is False
    assert api.post("/lots/MSC-0001/review", "alice", json={"password": api.password}).status_code == 403
    r = api.post("/lots/MSC-0001/review", "bob", json={"password": api.password})
    assert r.status_code == 201, r.text
    assert r.json()["signature"]["name"] == "Bob Reviewer"

    # QA signs with the password entered again; a wrong one is refused
    wrong = {"meaning": "released", "password": "nope"}
    assert api.post("/lots/MSC-0001/signatures", "carol", json=wrong).status_code == 403
    may = api.get("/lots/MSC-0001/signatures/allowed?meaning=released", "carol").json()
    assert may == {"meaning": "released", "allowed": True, "reason": None}
    r = api.post("/lots/MSC-0001/signatures", "carol", json={"meaning": "released", "password": api.password})
    assert r.status_code == 201, r.text
    sig = r.json()["signature"]
    assert sig["meaning"] == "released" and sig["name"] == "Carol QA" and sig["signed_at"].endswith("Z")
    assert r.json()["detail"]["status"] == "released"

    pdf = api.get("/lots/MSC-0001/coa.pdf", "bob")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    trail = api.get("/lots/MSC-0001/audit").json()
    assert trail[0]["action"] == "create" and trail[0]["table"] == "lots"
    assert any(e["table"] == "signatures" and e["user"] == "carol" for e in trail)
    verified = api.get("/audit/verify").json()
    assert verified["intact"], verified["problems"]


def test_lot_list_filters(api):
    for n in range(3):
        api.create_msc_lot(f"MSC-00{n}")
    api.enter_all("MSC-000")
    listed = api.get("/lots").json()
    assert listed["total"] == 3 and [x["lot"] for x in listed["lots"]] == ["MSC-002", "MSC-001", "MSC-000"]
    assert listed["lots"][2]["results"] == len(api.values)
    assert api.get("/lots?search=001").json()["total"] == 1
    assert api.get("/lots?status=released").json()["total"] == 0
    assert api.get("/lots?status=open&limit=2").json()["lots"][1]["lot"] == "MSC-001"
    assert api.get("/lots/NOPE").status_code == 404
    assert api.get("/products").json()[0]["product"] == "aav"
    spec = api.get("/specifications/msc").json()
    assert spec["version"] == "1.0" and len(spec["lines"]) == 11
