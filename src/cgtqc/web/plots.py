"""The lot page's plots: the figures each engine drew when its raw files were uploaded, and the ones drawn
here from what an upload kept.

An upload (:mod:`cgtqc.runner.upload`) keeps its raw files in ``<run>/in`` under the server's
``upload_dir`` and the engine's artefacts in ``<run>/out``; a result's provenance names its input files, so
the page finds the run's figures from the result alone and embeds them inline: PNG and SVG files (flow dot
plots, dose-response curves, the endotoxin and ELISA standard curves) and the PNG figures an engine embeds in
its HTML report (the AAV read classes, lengths, coverage). Only files inside ``upload_dir`` are read, and
only base64 PNG data is taken from a report.

Two engines draw no figure; their plots are drawn on request (``/lots/{lot}/plots/{result}/{kind}/{key}``)
from the run's kept files, never from new data: a ddPCR well's droplet amplitudes (``kind`` ``ddpcr``, one
image per well: the kept amplitude file, checked against the result's SHA-256, called by the thresholds or
2-D boundaries the engine stored in ``ddpcr_wells.json``) and an integration-site sample's clone abundance
(``clones``: the run's ``sites.tsv`` and ``multihits.tsv``). The page links a plot only when its files are
there. An image is cached in memory, keyed by the SHA-256 of the result's provenance (its input files'
SHA-256, engine version and parameters) with the plot's name, and answered with that key as its ETag.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response

from cgtqc.lots import service
from cgtqc.plotting import PLOT_SUFFIXES
from cgtqc.store.readcache import BytesLRU
from cgtqc.web.context import read_scope

MIME = {".png": "image/png", ".svg": "image/svg+xml"}
REPORT_FIGURE = re.compile(
    r"<h2>([^<]{1,200})</h2>\s*<img src=['\"](data:image/png;base64,[A-Za-z0-9+/=]+)['\"]"
)


def _run_dir(upload_dir: Path, input_path: str) -> Path | None:
    """The upload run folder an input file belongs to, when it lies inside ``upload_dir``."""
    try:
        p = Path(input_path).resolve()
        p.relative_to(upload_dir)
    except (ValueError, OSError):
        return None
    return p.parent.parent if p.parent.name == "in" else None


def _figures(out: Path) -> list[tuple[str, str]]:
    """(title, data URI) of every figure in a run's artefact folder, in file order."""
    found = []
    for f in sorted(out.rglob("*")):
        suffix = f.suffix.lower()
        if not f.is_file():
            continue
        if suffix in PLOT_SUFFIXES:
            data = base64.b64encode(f.read_bytes()).decode()
            found.append((f.stem.replace("_", " "), f"data:{MIME[suffix]};base64,{data}"))
        elif suffix == ".html":
            text = f.read_text(encoding="utf-8", errors="replace")
            found += [(html.unescape(t), src) for t, src in REPORT_FIGURE.findall(text)]
    return found


def figures(upload_dir: Path, results: Iterable[tuple[str, dict[str, Any] | None]]) -> list[dict[str, str]]:
    """The figures of the upload runs behind ``results`` ((CQA, provenance) pairs), each run once."""
    root = Path(upload_dir).resolve()
    seen: set[Path] = set()
    out = []
    for cqa, prov in results:
        for f in (prov or {}).get("inputs", []):
            run = _run_dir(root, f.get("path", ""))
            if run is None or run in seen:
                continue
            seen.add(run)
            out += [{"cqa": cqa, "title": t, "src": src} for t, src in _figures(run / "out")]
    return out


def plots_for(request: Any, outcomes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Inline images of every figure behind the lot's current results (the lot page's outcomes)."""
    return figures(request.app.state.upload_dir, ((o["line"].cqa, o.get("provenance")) for o in outcomes))


# ---- plots drawn here from a run's kept files ----------------------------------------------------------

SITES = "sites.tsv"
CACHE_SIZE = 256


@dataclass(frozen=True)
class DrawnPlot:
    """A plot the page links: which result, which kind (``ddpcr``, ``clones``) and which well or sample."""

    cqa: str
    result: int
    kind: str
    key: str
    title: str

    def url(self, lot_number: str, fmt: str = "png") -> str:
        lot, key = quote(lot_number, safe=""), quote(self.key, safe="")
        return f"/lots/{lot}/plots/{self.result}/{self.kind}/{key}.{fmt}"


def _run_of(upload_dir: Path, prov: dict[str, Any] | None) -> Path | None:
    """The upload run folder of a result's input files (the first inside ``upload_dir``)."""
    root = Path(upload_dir).resolve()
    for f in (prov or {}).get("inputs", []):
        run = _run_dir(root, f.get("path", ""))
        if run is not None:
            return run
    return None


def _ddpcr_wells(run: Path, prov: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The stored wells behind a ddPCR result whose amplitude file is kept in the run's ``in/``."""
    from cgtqc.assays.ddpcr.plots import WELLS_JSON, stored_wells

    path = run / "out" / WELLS_JSON
    if not path.is_file():
        return {}
    inputs = {Path(i.get("path", "")).name for i in prov.get("inputs", [])}
    return {
        w: recs
        for w, recs in stored_wells(path).items()
        if Path(recs[0].get("source", "")).name in inputs
        and (run / "in" / Path(recs[0]["source"]).name).is_file()
    }


def _plots_of(
    upload_dir: Path, prov: dict[str, Any] | None, run: Path | None = None
) -> tuple[Path | None, list[tuple[str, str, str]]]:
    """The run folder and the (kind, key, title) of every plot drawable from a result's kept files."""
    run = run or _run_of(upload_dir, prov)
    if run is None or prov is None:
        return None, []
    engine = prov.get("engine")
    if engine == "ddpcr":
        wells = _ddpcr_wells(run, prov)
        return run, [("ddpcr", w, f"droplet amplitudes, well {w}") for w in sorted(wells)]
    if engine == "integration" and (run / "out" / SITES).is_file():
        return run, [("clones", "sample", "clone abundance (top clones and others)")]
    return run, []


def drawable(upload_dir: Path, results: Iterable[tuple[str, int, dict[str, Any] | None]]) -> list[DrawnPlot]:
    """The plots drawable from the runs behind ``results`` ((CQA, result id, provenance)), each run once."""
    seen: set[Path] = set()
    out = []
    for cqa, result_id, prov in results:
        run = _run_of(upload_dir, prov)
        if run is None or run in seen:
            continue
        seen.add(run)
        _, found = _plots_of(upload_dir, prov, run)
        out += [DrawnPlot(cqa, result_id, kind, key, title) for kind, key, title in found]
    return out


def drawn_for(request: Any, outcomes: list[dict[str, Any]]) -> list[DrawnPlot]:
    """The drawable plots of the lot's current results (the lot page's outcomes)."""
    return drawable(
        request.app.state.upload_dir,
        ((o["line"].cqa, o["result"].id, o.get("provenance")) for o in outcomes if o["result"] is not None),
    )


def _draw(run: Path, prov: dict[str, Any], kind: str, key: str, fmt: str) -> bytes:
    """The image of one plot from the run's kept files (the engines' own plotting code)."""
    if kind == "ddpcr":
        from cgtqc.assays.ddpcr.plots import droplet_calls, plot_well

        recs = _ddpcr_wells(run, prov)[key]
        calls = droplet_calls(recs, run / "in" / Path(recs[0]["source"]).name)
        return plot_well(calls, f"Well {key}", fmt)
    from cgtqc.seq.integration.plots import clones, plot_clones

    return plot_clones(clones(run / "out"), "Clone abundance", fmt=fmt)


class ImageCache(BytesLRU):
    """The drawn images by content key (two requests may draw the same image once each)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        super().__init__(maxsize=size)
        self.draws = 0

    def get(self, key: str, draw: Callable[[], bytes]) -> bytes:
        data = self.lookup(key)
        if data is None:
            data = draw()
            self.draws += 1
            self.keep(key, data)
        return data


CACHE = ImageCache()
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


def _not_found(what: str) -> Response:
    return Response(f"{what}\n", status_code=404, media_type="text/plain")


def image(request: Any, lot_number: str, result_id: int, kind: str, name: str) -> Response:
    """One drawn plot of a result of the lot as PNG or SVG (by the name's suffix); 404 when there is none."""
    key, _, fmt = name.rpartition(".")
    if fmt not in MEDIA or kind not in ("ddpcr", "clones"):
        return _not_found(f"no plot {kind}/{name}")
    with read_scope(request) as s:
        lot = service.get_lot(s, lot_number)
        result = next((r for r in lot.results if r.id == result_id), None)
        if result is None:
            return _not_found(f"lot {lot_number} has no result {result_id}")
        prov_text = result.provenance_json
    prov = json.loads(prov_text)
    run, found = _plots_of(request.app.state.upload_dir, prov)
    if run is None or (kind, key) not in {(k, n) for k, n, _ in found}:
        return _not_found(f"result {result_id} has no {kind} plot {key!r}")
    etag = '"' + hashlib.sha256("\n".join((prov_text, kind, key, fmt)).encode()).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=86400",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    data = CACHE.get(etag, lambda: _draw(run, prov, kind, key, fmt))
    return Response(data, media_type=MEDIA[fmt], headers=headers)
