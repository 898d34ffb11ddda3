"""cgtqc: quality control and lot release for cell and gene therapy products.

The public surface a notebook user may import lives here; everything else may change.
"""

from cgtqc import _lazy
from cgtqc.errors import CgtqcError, InputError
from cgtqc.results import InputFile, Measurement, Provenance, ValidityCheck, file_input

__version__ = "0.1.0"

_lazy.install()  # 0.1 module paths keep working for one release

__all__ = [
    "CgtqcError",
    "InputError",
    "InputFile",
    "Measurement",
    "Provenance",
    "ValidityCheck",
    "file_input",
    "__version__",
]
