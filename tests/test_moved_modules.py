"""0.1 module paths keep working for one release, with a warning naming the new path."""

import importlib
import subprocess
import sys
import warnings

import pytest

from cgtqc._lazy import MOVED


@pytest.mark.parametrize("old", ["cgtqc.assays.ddpcr_apps", "cgtqc.seq.aav_path", "cgtqc.io.rdml"])
def test_old_path_is_the_new_module(old):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])
    assert any(MOVED[old] in str(w.message) for w in caught if w.category is DeprecationWarning)


def test_every_moved_path_resolves():
    for old, new in MOVED.items():
        assert importlib.util.find_spec(new) is not None, f"{old} -> {new} does not exist"


def test_engine_package_names_load_lazily():
    # the package names its engine's public API but imports the engine only on first use
    code = (
        "import sys, cgtqc.assays.flow as f; assert 'flowkit' not in sys.modules; "
        "f.load_fcs; assert 'flowkit' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from cgtqc.assays.ddpcr import quantify_amplitudes  # the 0.1 spelling of the engine module

    assert quantify_amplitudes.__module__ == "cgtqc.assays.ddpcr.engine"
