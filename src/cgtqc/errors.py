"""The project's own error types.

Every error a user can cause carries the file and the place in it (line, well, record, field), so the
command line prints one clear line such as ``plate.csv: line 12, column 'OD': 'abc' is not a number``.
"""

from __future__ import annotations

from pathlib import Path


class CgtqcError(Exception):
    """Base class of every error cgtqc raises on purpose."""


class InputError(CgtqcError):
    """Bad input: a file or value that cannot be used, with where it is wrong."""

    def __init__(self, message: str, file: str | Path | None = None, place: str | None = None) -> None:
        self.message = " ".join(str(message).split())  # always one line, whatever a library said
        self.file = str(file) if file is not None else None
        self.place = place
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.place) if p)
        return f"{where}: {self.message}" if where else self.message


class SpecificationError(InputError):
    """A specification file or line that does not validate."""


class UnitError(InputError):
    """A unit that is unknown or cannot be converted to the one a specification asks for."""


class PermissionDenied(CgtqcError):
    """A user tried an action their role or the separation of duties forbids."""


class DispositionError(CgtqcError):
    """A lot cannot move to the requested state (release criteria not met)."""
