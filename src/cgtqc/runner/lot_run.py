"""``cgtqc run LOT_DIR``: every test of a lot's manifest through its engine, stored, judged and reported.

The plan: each engine test is one task keyed by its content (:mod:`cgtqc.runner.cache`); a sequencing
engine with a :class:`~cgtqc.engines.Chunking` is prepared once here, split into chunks of reads (record
boundaries, mates together), its chunks run as tasks anywhere and are merged here in chunk order, so the
result is the same, byte for byte, for any chunk size and scheduler. Independent tests run at the same time.
A failing engine is reported by name and the others still complete. Then the results go to the lot in the
store (:mod:`cgtqc.runner.store`), the specification judges them, and :mod:`cgtqc.runner.dossier` writes
``results.json``, ``dossier.html`` and ``coa-draft.pdf``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgtqc import __version__
from cgtqc.engines import EngineResult, _resolve, registry
from cgtqc.errors import InputError
from cgtqc.results import Measurement, Provenance
from cgtqc.runner.cache import Cache, test_key
from cgtqc.runner.manifest import Manifest, TestEntry, load_manifest
from cgtqc.runner.schedulers import Scheduler, make_scheduler
from cgtqc.runner.tasks import run_chunk, run_engine


@dataclass
class TestRun:
    """What became of one test of the manifest."""

    test: TestEntry
    key: str = ""
    result: EngineResult | None = None
    error: str | None = None
    cached: bool = False
    seconds: float = 0.0
    reads: int = 0


@dataclass
class LotRun:
    manifest: Manifest
    out: Path
    tests: list[TestRun] = field(default_factory=list)
    scheduler: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> list[TestRun]:
        return [t for t in self.tests if t.error]


class Progress:
    """Callbacks the command line turns into progress bars (the default does nothing)."""

    def start(self, test: TestEntry, total: int, unit: str) -> None: ...
    def advance(self, test: TestEntry, n: int = 1, reads: int = 0) -> None: ...
    def done(self, test: TestEntry, error: str | None) -> None: ...


def _manual(test: TestEntry, user: str, manifest: Manifest) -> EngineResult | None:
    if test.value is None:
        return None
    prov = Provenance("manual-entry", __version__, {"entered_by": user, "manifest": manifest.path.name,
                                                    "test": test.id})
    m = Measurement(test.cqas[0], test.value, test.unit, prov, note=test.note)
    return EngineResult("manual-entry", __version__, [m])


def execute_tests(
    manifest: Manifest,
    out: Path,
    scheduler: Scheduler,
    *,
    user: str,
    chunk_reads: int | None | str = "default",
    progress: Progress | None = None,
) -> list[TestRun]:
    """Run every test (cached ones are read back); returns them in manifest order."""
    progress = progress or Progress()
    cache = Cache(out / ".cache")
    reg = registry()
    runs = [TestRun(t) for t in manifest.tests]
    pending: dict[Any, tuple[TestRun, Any, _Task]] = {}  # future -> (test run, chunk or None, task)
    chunked: dict[str, dict[str, Any]] = {}  # test id -> context, chunks, partials
    for tr in runs:
        t = tr.test
        if t.manual:
            tr.result = _manual(t, user, manifest)
            progress.done(t, None)
            continue
        engine = reg[t.engine]
        tr.key = test_key(engine, t.params, t.inputs)
        hit = cache.result(tr.key)
        if hit is not None:
            tr.result, tr.cached = EngineResult.from_dict(hit), True
            progress.start(t, 1, "tests")
            progress.advance(t)
            progress.done(t, None)
            continue
        tr.seconds = time.perf_counter()
        inputs = {k: [str(p) for p in v] for k, v in t.inputs.items()}
        if engine.chunking is None:
            progress.start(t, 1, "tests")
            args = (run_engine, engine.name, inputs, t.params.model_dump(), str(out / "tests" / t.id))
            task = _Task(scheduler, args, f"{engine.name}-{tr.key}")
            pending[task.submit()] = (tr, None, task)
            continue
        try:
            c = engine.chunking
            size = c.default_chunk_reads if chunk_reads == "default" else (chunk_reads or None)
            context = _resolve(c.prepare)(engine.check_inputs(t.inputs), t.params)
            chunks = _resolve(c.split)(t.inputs, c.kinds, size, out / ".chunks")
        except Exception as exc:  # noqa: BLE001 - reported per test; the others go on
            tr.error = f"{type(exc).__name__}: {exc}"
            progress.done(t, tr.error)
            continue
        handle = scheduler.scatter(context)
        state = {"context": context, "chunks": chunks, "partials": [None] * len(chunks), "size": size,
                 "left": len(chunks)}
        chunked[t.id] = state
        progress.start(t, len(chunks), "chunks")
        for i, chunk in enumerate(chunks):
            done = cache.chunk(tr.key, size, chunk)
            if done is not None:
                state["partials"][i] = done
                state["left"] -= 1
                progress.advance(t, 1, max(chunk.n_reads, 0))
                continue
            task = _Task(scheduler, (run_chunk, engine.name, handle, chunk),
                         f"{engine.name}-{tr.key}-{size}-{chunk.source}-{chunk.index}", context)
            pending[task.submit()] = (tr, (i, chunk), task)
        if state["left"] == 0:
            _merge(tr, state, cache, out, progress)
    while pending:  # a task the cluster cancelled (a lost worker) is submitted again, here, in the next pass
        for fut in scheduler.as_completed(list(pending)):
            tr, where, task = pending.pop(fut)
            if tr.error:
                continue
            try:
                value = fut.result()
            except CancelledError as exc:
                if task.tries < RESUBMITS:
                    pending[task.submit()] = (tr, where, task)
                    continue
                tr.error = f"{type(exc).__name__}: {exc}"
                progress.done(tr.test, tr.error)
                continue
            except Exception as exc:  # noqa: BLE001 - an engine failing must not stop the others
                tr.error = f"{type(exc).__name__}: {exc}"
                progress.done(tr.test, tr.error)
                continue
            _completed(tr, where, value, chunked, cache, out, progress)
    return runs


def _completed(
    tr: TestRun, where: Any, value: Any, chunked: dict[str, dict[str, Any]], cache: Cache, out: Path,
    progress: Progress,
) -> None:
    """Record a finished task: a whole test's result, or one chunk's partial (merging the last one)."""
    if where is None:
        tr.result = EngineResult.from_dict(value)
        cache.put_result(tr.key, value)
        tr.seconds = time.perf_counter() - tr.seconds
        progress.advance(tr.test)
        progress.done(tr.test, None)
        return
    i, chunk = where
    state = chunked[tr.test.id]
    cache.put_chunk(tr.key, state["size"], chunk, value)
    state["partials"][i] = value
    state["left"] -= 1
    tr.reads += max(chunk.n_reads, 0)
    progress.advance(tr.test, 1, max(chunk.n_reads, 0))
    if state["left"] == 0:
        _merge(tr, state, cache, out, progress)


RESUBMITS = 3  # a task the cluster cancelled is submitted again this many times at most


class _Task:
    """One task: :meth:`submit` sends it and, when the cluster cancels it (Dask forgets a task whose worker
    or scattered input was lost: "already forgotten"), the same task again under a new key, the context
    re-scattered."""

    def __init__(self, scheduler: Scheduler, args: tuple, key: str, context: Any = None) -> None:
        self.scheduler, self.args, self.key, self.context, self.tries = scheduler, args, key, context, -1

    def submit(self) -> Any:
        self.tries += 1
        args = self.args
        if self.tries and self.context is not None:  # the chunk's context handle may be the lost input
            args = (*args[:2], self.scheduler.scatter(self.context), *args[3:])
        key = self.key if not self.tries else f"{self.key}-again{self.tries}"
        return self.scheduler.submit(*args, key=key)


def _merge(tr: TestRun, state: dict, cache: Cache, out: Path, progress: Progress) -> None:
    t = tr.test
    engine = registry()[t.engine]
    try:
        checked = engine.check_inputs(t.inputs)
        folder = out / "tests" / t.id
        folder.mkdir(parents=True, exist_ok=True)
        result = _resolve(engine.chunking.merge)(state["context"], state["partials"], checked, t.params,
                                                 folder)
        engine._check_cqas(result)
    except Exception as exc:  # noqa: BLE001
        tr.error = f"{type(exc).__name__}: {exc}"
        progress.done(t, tr.error)
        return
    tr.result = result
    cache.put_result(tr.key, result.to_dict())
    tr.seconds = time.perf_counter() - tr.seconds
    progress.done(t, None)


def run_lot(
    lot_dir: str | Path,
    *,
    db_url: str,
    user: str,
    password: str,
    out: str | Path | None = None,
    scheduler: str | Scheduler = "local",
    chunk_reads: int | None | str = "default",
    progress: Progress | None = None,
    on_stored: Callable[[], None] | None = None,
) -> LotRun:
    """Validate the manifest, run its tests, store and judge the results, write the dossier."""
    from cgtqc.runner.dossier import write_outputs
    from cgtqc.runner.store import StoreOutcome, ensure_lot, store_measurements
    from cgtqc.store.db import session_scope
    from cgtqc.store.users import authenticate

    t0 = time.perf_counter()
    manifest = load_manifest(lot_dir)  # nothing runs on a bad manifest
    out = Path(out) if out is not None else manifest.folder / "out"
    out.mkdir(parents=True, exist_ok=True)
    with session_scope(db_url) as s:
        authenticate(s, user, password)  # a GMP write: the acting user proves who they are
        ensure_lot(s, user, manifest)
    run = LotRun(manifest, out)
    if isinstance(scheduler, Scheduler):  # a scheduler the caller owns (and closes)
        run.scheduler = scheduler.name
        run.tests = execute_tests(manifest, out, scheduler, user=user, chunk_reads=chunk_reads,
                                  progress=progress)
    else:
        with make_scheduler(scheduler) as sched:
            run.scheduler = sched.name
            run.tests = execute_tests(manifest, out, sched, user=user, chunk_reads=chunk_reads,
                                      progress=progress)
    stored = StoreOutcome()
    for tr in run.tests:
        if tr.result is None or tr.error:
            continue
        try:  # one transaction per test: a refused value (e.g. outside its physical range) writes nothing
            with session_scope(db_url) as s:
                store_measurements(s, user, manifest, tr.test, tr.result.measurements, stored)
        except InputError as exc:
            tr.error = f"not stored: {exc}"
    if on_stored:
        on_stored()
    run.seconds = time.perf_counter() - t0
    write_outputs(run, db_url, stored)
    return run
