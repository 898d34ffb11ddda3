"""A single-end FASTQ file read and counted while the engine still loads (the ``editing quantify`` command).

The command starts :func:`start` before it imports numpy and the engine (~0.15 s); the counting pass
(:func:`cgtqc.seq.fastq.count_sequences`, compiled, mostly without the GIL) then runs in a thread meanwhile.
:func:`cgtqc.seq.editing.pipeline.single_end` takes the early count of its file with :func:`take`: the
sequences the reader already met are handed to its aligners at once, the rest as they come, in the same
order, and the counts, errors and fall-back to the checked reader are those of a direct call. Only the
standard library and the FASTQ reader are imported here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from cgtqc.seq.fastq import SequenceCounts, count_sequences

Sink = Callable[[list[str]], None]


class EarlyCount:
    """One file counted in a background thread; new sequences are kept until a sink is attached."""

    def __init__(self, path: Path, chunk_size: int) -> None:
        self.path, self.chunk_size = path, chunk_size
        self._lock = threading.Lock()
        self._heard: list[list[str]] = []
        self._sink: Sink | None = None
        self._result: SequenceCounts | None = None
        self._error: BaseException | None = None
        # a daemon: a command that fails before it takes the count does not wait for the file to be read
        self._thread = threading.Thread(target=self._run, name="fastq-count", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = count_sequences(self.path, self.chunk_size, self._on_new)
        except BaseException as exc:  # re-raised by result() in the caller's thread
            self._error = exc

    def _on_new(self, new: list[str]) -> None:
        with self._lock:  # the order of the slices is the file's, before and after attach()
            if self._sink is None:
                self._heard.append(new)
            else:
                self._sink(new)

    def attach(self, sink: Sink | None) -> None:
        """Hand the sequences heard so far to ``sink``, and the later ones as they come (None: drop them)."""
        with self._lock:
            if sink is not None:
                for new in self._heard:
                    sink(new)
            self._heard = []
            self._sink = sink if sink is not None else (lambda new: None)

    def result(self) -> SequenceCounts:
        """The counts, once the file is read; the reader's error, if it raised one."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


_STARTED: dict[tuple[Path, int], EarlyCount] = {}


def start(path: str | Path, chunk_size: int = 20_000) -> None:
    """Start counting ``path`` now, for the next :func:`take` of it (a second start of a file is ignored)."""
    key = (Path(path), chunk_size)
    if key not in _STARTED:
        _STARTED[key] = EarlyCount(key[0], chunk_size)


def take(path: str | Path, chunk_size: int) -> EarlyCount | None:
    """The early count of ``path`` if one was started (once: it is forgotten here), else None."""
    return _STARTED.pop((Path(path), chunk_size), None)


def drop(path: str | Path) -> None:
    """Forget an early count of ``path`` nobody took (the run failed before it read the file)."""
    for key in [k for k in _STARTED if k[0] == Path(path)]:
        del _STARTED[key]
