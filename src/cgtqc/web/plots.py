"""The lot page's plots: the figures each engine drew when its raw files were uploaded.

An upload (:mod:`cgtqc.runner.upload`) keeps its raw files in ``<run>/in`` under the server's
``upload_dir`` and the engine's artefacts in ``<run>/out``; a result's provenance names its input files, so
the page finds the run's figures (flow dot plots, dose-response curves, the endotoxin standard curve, AAV
class bars ...) from the result alone and embeds them inline. Only files inside ``upload_dir`` are read.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fastapi import Request

from cgtqc.plotting import PLOT_SUFFIXES

MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def _run_dir(upload_dir: Path, input_path: str) -> Path | None:
    """The upload run folder an input file belongs to, when it lies inside ``upload_dir``."""
    try:
        p = Path(input_path).resolve()
        p.relative_to(upload_dir)
    except (ValueError, OSError):
        return None
    return p.parent.parent if p.parent.name == "in" else None


def plots_for(request: Request, outcomes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Inline images (data URIs) of every figure of the runs behind the lot's current results."""
    upload_dir = Path(request.app.state.upload_dir).resolve()
    seen: set[Path] = set()
    out = []
    for o in outcomes:
        prov = o.get("provenance") or {}
        for f in prov.get("inputs", []):
            run = _run_dir(upload_dir, f.get("path", ""))
            if run is None or run in seen:
                continue
            seen.add(run)
            for fig in sorted((run / "out").rglob("*")):
                if fig.suffix.lower() in PLOT_SUFFIXES and fig.is_file():
                    data = base64.b64encode(fig.read_bytes()).decode()
                    out.append(
                        {
                            "cqa": o["line"].cqa,
                            "title": fig.stem.replace("_", " "),
                            "src": f"data:{MIME[fig.suffix.lower()]};base64,{data}",
                        }
                    )
    return out
