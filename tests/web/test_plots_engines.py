"""Plots drawn from what an upload kept: ddPCR droplet amplitudes per well and integration-site clone
abundance, uploaded through the lot page's form once (real engines, real store), then only read."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cgtqc.assays.ddpcr.plots import droplet_calls, stored_wells, thinned
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.lots import service
from cgtqc.seq.integration.plots import clones
from cgtqc.server import create_app
from cgtqc.specs.loader import parse_specification
from cgtqc.store.db import session_scope
from cgtqc.web import plots
from cgtqc.web.plots import drawable

from .conftest import DIN, EMPTY, LOT, login, page_csrf

HX = {"HX-Request": "true"}
IS_LOT = "LVHSC-IS1"
IS_SPEC = """product: lv_hsc
name: "LV-HSC drug product with integration-site tests (test)"
version: "1.0-is"
modality: lv_hsc
tests:
  - cqa: integration_top_clone_pct
    acceptance: "<= 50.0"
  - cqa: integration_shannon
    acceptance: ">= 1.0"
"""
PNG, SVG = b"\x89PNG\r\n\x1a\n", b"<svg"


def _upload(client, lot: str, cqa: str, engine: str, files: list[Path], params: dict) -> None:
    r = client.post(
        f"/lots/{lot}/results",
        data={
            "cqa": cqa,
            "stage": "release",
            "engine": engine,
            "params": json.dumps(params),
            "csrf_token": page_csrf(client),
        },
        files=[("files", (f.name, f.read_bytes(), "application/octet-stream")) for f in files],
    )
    assert r.status_code == 303, r.text[-600:]


@pytest.fixture(scope="module")
def plotted(seeded_db, tmp_path_factory):
    """A site with an AAV lot's duplex ddPCR titer and an integration-site top clone uploaded once."""
    root = tmp_path_factory.mktemp("plotted")
    db = root / "web.db"
    shutil.copyfile(seeded_db, db)
    url = f"sqlite:///{db}"
    with session_scope(url) as s:
        service.register_specification(s, parse_specification(IS_SPEC), "admin")
        service.create_lot(
            s, "ann", IS_LOT, "lv_hsc", "Basel", spec_version="1.0-is", din=DIN, coi_id="COI-IS1"
        )
    app = create_app(url, secure_cookies=False, upload_dir=root / "uploads")
    ana = login(app, "ana")
    dd = registry()["ddpcr"].make_simulated(root / "sim-ddpcr", 3, "vg_titer", "aav")
    _upload(ana, EMPTY, "vg_titer", "ddpcr", [Path(p) for p in dd.inputs["ddpcr-amplitudes"]], dd.params)
    truth = {"n_pairs": 300, "n_clones": 20}
    ig = registry()["integration"].make_simulated(
        root / "sim-is", 3, "integration_top_clone_pct", None, truth
    )
    files = [Path(p) for paths in ig.inputs.values() for p in paths]
    _upload(ana, IS_LOT, "integration_top_clone_pct", "integration", files, ig.params)
    return app, url, root / "uploads", ana


def _links(html: str, kind: str) -> list[str]:
    import re

    return sorted(set(re.findall(rf'src="(/lots/[^"]+/plots/\d+/{kind}/[^"]+\.png)"', html)))


def test_ddpcr_wells_are_linked_drawn_as_images_and_cached(plotted):
    app, _url, _uploads, ana = plotted
    page = ana.get(f"/lots/{EMPTY}").text
    links = _links(page, "ddpcr")
    assert [link.rsplit("/", 1)[1] for link in links] == ["B01.png", "B02.png"]  # one image per well
    frag = ana.get(f"/fragments/lots/{EMPTY}/plots", headers=HX)
    assert frag.status_code == 200 and "<html" not in frag.text and _links(frag.text, "ddpcr") == links
    r = ana.get(links[0])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(PNG) and len(r.content) > 20_000
    draws = plots.CACHE.draws
    again = ana.get(links[0])
    assert again.content == r.content and plots.CACHE.draws == draws  # from the cache
    assert ana.get(links[0], headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    svg = ana.get(links[1][: -len("png")] + "svg")
    assert svg.headers["content-type"] == "image/svg+xml" and SVG in svg.content[:400]


def test_the_drawn_calls_are_the_stored_results_and_a_changed_file_is_refused(plotted, tmp_path):
    _app, _url, uploads, _ana = plotted
    (out,) = [p.parent for p in uploads.rglob("ddpcr_wells.json")]
    wells = stored_wells(out / "ddpcr_wells.json")
    table = {(r["well"], r["target"]): r for r in csv.DictReader((out / "ddpcr_wells.csv").open())}
    for well, recs in wells.items():
        calls = droplet_calls(recs, out.parent / "in" / Path(recs[0]["source"]).name)
        assert calls.method == "2d" and calls.duplex and set(calls.boundaries) == {1, 2}
        for ch, pos in ((1, calls.pos1), (2, calls.pos2)):
            row = table[(well, calls.targets[ch - 1])]
            assert int(pos.sum()) == int(row["positives"]) and calls.ch1.size == int(row["accepted_droplets"])
    recs = wells["B01"]
    changed = tmp_path / Path(recs[0]["source"]).name
    lines = (out.parent / "in" / changed.name).read_text().splitlines()
    changed.write_text("\n".join(lines[:-1]) + "\n")  # one droplet fewer
    with pytest.raises(InputError, match="SHA-256"):
        droplet_calls(recs, changed)
    wrong = [{**recs[0], "positives": recs[0]["positives"] + 1}, *recs[1:]]
    with pytest.raises(InputError, match="stored counts"):
        droplet_calls(wrong, out.parent / "in" / changed.name)


def test_1d_user_and_instrument_calls_are_reproduced(plotted, tmp_path):
    _app, _url, uploads, _ana = plotted
    kept = sorted(str(p) for p in uploads.rglob("*_Amplitude.csv"))  # QX Manager files: with the calls
    e = registry()["ddpcr"]
    for extra, method in (
        ({"threshold_ch1": 5000.0, "threshold_ch2": 4000.0}, "user"),
        ({"use_file_calls": True}, "file_calls"),
    ):
        e.execute({"ddpcr-amplitudes": kept}, extra, tmp_path / method)
        for recs in stored_wells(tmp_path / method / "ddpcr_wells.json").values():
            calls = droplet_calls(recs, recs[0]["source"])  # raises unless the calls give the stored counts
            assert calls.method == method and calls.boundaries == {}
            assert calls.thresholds == ((5000.0, 4000.0) if method == "user" else (None, None))


def test_a_well_on_two_plates_is_named_by_its_file(tmp_path):
    rec = {"well": "A01", "channel": 1, "provenance": {"parameters": {"counts_from": "droplet amplitudes"}}}
    rows = [
        {**rec, "source": "/x/plate1_A01_Amplitude.csv"},
        {**rec, "channel": 2, "source": "/x/plate1_A01_Amplitude.csv"},
        {**rec, "source": "/x/plate2_A01_Amplitude.csv"},
        {**rec, "well": "B01", "source": "/x/plate2_B01_Amplitude.csv"},
        {
            **rec,
            "well": "C01",
            "source": "/x/table.csv",
            "provenance": {"parameters": {"counts_from": "well table"}},
        },
    ]
    (tmp_path / "w.json").write_text(json.dumps(rows))
    wells = stored_wells(tmp_path / "w.json")
    assert {k: len(v) for k, v in wells.items()} == {
        "plate1_A01_Amplitude": 2,
        "plate2_A01_Amplitude": 1,
        "B01": 1,
    }


def test_thinning_keeps_every_droplet_of_a_small_cluster():
    clusters = np.zeros(20_000, int)
    clusters[[5, 9_000, 19_999]] = 1  # three rare positives
    clusters[100:3_100] = 3
    keep = thinned(clusters)
    assert keep.size <= 4_000 and {5, 9_000, 19_999} <= set(keep.tolist())
    assert np.all(np.diff(keep) > 0) and thinned(clusters[:3_000]).size == 3_000


def test_clone_abundance_is_linked_and_drawn_from_the_kept_sites(plotted):
    _app, url, uploads, ana = plotted
    page = ana.get(f"/lots/{IS_LOT}").text
    (link,) = _links(page, "clones")
    r = ana.get(link)
    assert r.status_code == 200 and r.content.startswith(PNG) and len(r.content) > 10_000
    (out,) = [p.parent for p in uploads.rglob("sites.tsv")]
    found = clones(out)
    with session_scope(url) as s:
        (result,) = service.get_lot(s, IS_LOT).results
        stored = float(result.value)
    assert found[0].relative * 100 == pytest.approx(stored, rel=1e-5)  # the tallest bar is the CQA
    near = json.loads((out / "summary.json").read_text())["flags"]["sites_near_ae_genes"]
    assert sum(1 for c in found if c.near_ae_genes) == near > 0


def test_no_link_without_the_data_and_404_for_no_such_plot(plotted, tmp_path):
    app, _url, uploads, ana = plotted
    page = ana.get(f"/lots/{LOT}").text  # manual results only
    assert "/plots/" not in page and "No plot" in page
    link = _links(ana.get(f"/lots/{EMPTY}").text, "ddpcr")[0]
    base, rid = link.split("/plots/")[0], link.split("/")[4]
    for bad in (
        f"{base}/plots/{rid}/ddpcr/H12.png",
        f"{base}/plots/{rid}/clones/sample.png",
        f"{base}/plots/{rid}/ddpcr/B01.gif",
        f"{base}/plots/999999/ddpcr/B01.png",
    ):
        assert ana.get(bad).status_code == 404, bad
    # an upload kept before ddpcr_wells.json existed: nothing to draw, so no link
    (out,) = [p.parent for p in uploads.rglob("ddpcr_wells.json")]
    copy = tmp_path / "uploads" / "AAV-0001" / "run"
    shutil.copytree(out.parent, copy)
    inputs = [{"path": str(p), "sha256": ""} for p in sorted((copy / "in").iterdir())]
    prov = {"engine": "ddpcr", "inputs": inputs}
    assert [d.key for d in drawable(tmp_path / "uploads", [("vg_titer", 1, prov)])] == ["B01", "B02"]
    (copy / "out" / "ddpcr_wells.json").unlink()
    assert drawable(tmp_path / "uploads", [("vg_titer", 1, prov)]) == []
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get(link).status_code == 303  # to the login form
    assert anonymous.get(f"/fragments/lots/{EMPTY}/plots", headers=HX).status_code == 401


def test_the_plots_cluster_names_are_the_engines():
    from cgtqc.assays.ddpcr import cluster2d
    from cgtqc.assays.ddpcr import plots as ddpcr_plots

    assert ddpcr_plots.NAMES == cluster2d.NAMES
