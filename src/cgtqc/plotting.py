"""What every engine's figures share: the file formats the dossier and the web pages embed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cgtqc.errors import InputError

PLOT_SUFFIXES = (".png", ".svg")


def check_plot_suffix(path: str | Path) -> None:
    """Refuse a plot file name that is not .png or .svg; matplotlib picks the format from the suffix."""
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise InputError("plot file must end in .png or .svg", file=path)


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no screen), imported when a figure is drawn: modules that
    only list or describe plots then never pay matplotlib's import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
