"""Where tasks run: processes on this machine, a Dask LocalCluster, or a Dask scheduler given by address.

``local`` (the default) is a process pool with one worker per core; ``local:N`` starts a Dask ``LocalCluster``
with N single-threaded worker processes on loopback; ``tcp://HOST:PORT`` submits to an existing Dask
distributed scheduler (its workers must have cgtqc and the engine packages installed and see the lot folder).
Engines stay unaware of Dask: a task is a plain function of picklable arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import as_completed as _as_completed
from typing import Any

from cgtqc.errors import InputError


class Scheduler:
    """The few operations the runner needs from an executor."""

    name = ""
    workers = 1

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        raise NotImplementedError

    def scatter(self, obj: Any) -> Any:
        """A handle to ``obj`` that tasks receive without it being shipped with each of them."""
        return obj

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LocalScheduler(Scheduler):
    """A pool of worker processes on this machine."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.name = f"local ({self.workers} processes)"
        self._pool = ProcessPoolExecutor(max_workers=self.workers)

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Future:
        return self._pool.submit(fn, *args)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return _as_completed(list(futures))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskScheduler(Scheduler):
    """A Dask distributed client: on a LocalCluster it starts, or on a scheduler given by address."""

    def __init__(self, address: str | None = None, workers: int = 2) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=40,
            )
            self.client = Client(self._cluster)
            self.name = f"dask LocalCluster ({workers} workers)"
        else:
            self.client = Client(address, timeout=30)
            self.name = f"dask {address}"
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})) or workers)

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        # pure: the same key is the same result (tasks are keyed by content); retries survive a lost worker
        return self.client.submit(fn, *args, key=key, pure=False, retries=3)

    def scatter(self, obj: Any) -> Any:
        return self.client.scatter(obj, broadcast=True, hash=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        return iter(as_completed(list(futures)))

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_scheduler(spec: str) -> Scheduler:
    """``local`` | ``local:N`` | ``tcp://HOST:PORT``."""
    if spec == "local":
        return LocalScheduler()
    if spec.startswith("local:"):
        try:
            n = int(spec.partition(":")[2])
        except ValueError:
            n = 0
        if n < 1:
            raise InputError(f"--scheduler {spec!r}: write local:N with N >= 1 workers")
        return DaskScheduler(workers=n)
    if spec.startswith(("tcp://", "tls://", "ws://", "inproc://")):
        return DaskScheduler(address=spec)
    raise InputError(f"--scheduler {spec!r}: expected local, local:N or tcp://HOST:PORT")
