"""The lot page's figures: found from a result's provenance in the upload run's artefact folder."""

from __future__ import annotations

import base64

from cgtqc.web.plots import figures

PNG = base64.b64decode(  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def run_folder(root, name="run1"):
    run = root / "LOT-1" / name
    (run / "in").mkdir(parents=True)
    (run / "out" / "sample").mkdir(parents=True)
    raw = run / "in" / "plate.csv"
    raw.write_text("raw")
    return run, raw


def test_png_svg_and_report_figures_of_each_run_once(tmp_path):
    uploads = tmp_path / "uploads"
    run, raw = run_folder(uploads)
    (run / "out" / "endotoxin_standard_curve.png").write_bytes(PNG)
    (run / "out" / "curve.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (run / "out" / "table.tsv").write_text("not a figure")
    b64 = base64.b64encode(PNG).decode()
    (run / "out" / "sample" / "report.html").write_text(
        f"<h1>x</h1><h2>Read classes</h2><img src='data:image/png;base64,{b64}'/>"
        "<h2>Evil</h2><img src='javascript:alert(1)'/>"
    )
    prov = {"inputs": [{"path": str(raw), "sha256": "0" * 64}]}
    found = figures(uploads, [("full_genome_pct", prov), ("itr_intact_pct", prov)])  # one run, two CQAs
    assert [f["title"] for f in found] == ["curve", "endotoxin standard curve", "Read classes"]
    assert found[0]["src"].startswith("data:image/svg+xml;base64,")
    assert found[1]["src"] == f"data:image/png;base64,{b64}"
    assert all(f["cqa"] == "full_genome_pct" for f in found)


def test_nothing_is_read_outside_the_upload_folder(tmp_path):
    elsewhere, raw = run_folder(tmp_path / "elsewhere")
    (elsewhere / "out" / "secret.png").write_bytes(PNG)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    sneaky = str(uploads / ".." / "elsewhere" / "LOT-1" / "run1" / "in" / "plate.csv")
    assert figures(uploads, [("x", {"inputs": [{"path": str(raw)}, {"path": sneaky}]})]) == []
    assert figures(uploads, [("x", None), ("y", {"engine": "manual-entry"})]) == []
