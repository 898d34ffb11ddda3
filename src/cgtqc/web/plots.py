"""The lot page's plots: the figures each engine drew when its raw files were uploaded.

An upload (:mod:`cgtqc.runner.upload`) keeps its raw files in ``<run>/in`` under the server's
``upload_dir`` and the engine's artefacts in ``<run>/out``; a result's provenance names its input files, so
the page finds the run's figures from the result alone and embeds them inline: PNG and SVG files (flow dot
plots, dose-response curves, the endotoxin and ELISA standard curves) and the PNG figures an engine embeds in
its HTML report (the AAV read classes, lengths, coverage). Only files inside ``upload_dir`` are read, and
only base64 PNG data is taken from a report.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cgtqc.plotting import PLOT_SUFFIXES

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
