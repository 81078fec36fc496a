"""Reading a month's files on every core of one machine, in order.

Reading thousands of small statement and evidence files is pure per-file work (no database), so
it spreads over worker processes while the single writer loads what is already read.  Results
come back in submission order, so the store is written in inbox order and a run is reproducible
whatever the number of workers.  Small inboxes (fewer chunks than :data:`MIN_CHUNKS`) are read in
the calling process: starting workers costs about a second.

The number of workers is ``DPAUDIT_WORKERS`` (``1`` reads in the calling process), by default the
machine's CPUs, at most :data:`MAX_DEFAULT_WORKERS`.  The monthly Prefect flow can instead spread
the same work over a Dask cluster (``docs/scheduling.md``).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

MAX_DEFAULT_WORKERS = 4
MIN_CHUNKS = 2


def workers() -> int:
    """Worker processes to use: ``DPAUDIT_WORKERS`` or the CPUs (at most :data:`MAX_DEFAULT_WORKERS`)."""
    env = os.environ.get("DPAUDIT_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"DPAUDIT_WORKERS={env!r} is not a whole number; set it to 1 or more") from None
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


class Workers:
    """Worker processes shared by several batches of work (e.g. a month's statements and its
    evidence, so the second is read while the first is loaded).  Started on first use; closed
    with the ``with`` block.  ``submit`` sends every chunk at once and returns an iterator of
    the results in chunk order."""

    def __init__(self, n: int | None = None) -> None:
        self.n = workers() if n is None else n
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, fn: Callable[..., Any], chunks: Iterable[Any], *args: Any, parallel: bool = True) -> Iterator[Any]:
        """``fn(chunk, *args)`` for each chunk: on the workers when ``parallel`` and there are at
        least :data:`MIN_CHUNKS` chunks and more than one worker, else lazily in this process."""
        chunks = list(chunks)
        if not parallel or self.n <= 1 or len(chunks) < MIN_CHUNKS:
            return (fn(c, *args) for c in chunks)
        if self._pool is None:
            # "spawn": workers never inherit the parent's open DuckDB connection or its threads
            self._pool = ProcessPoolExecutor(max_workers=self.n, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_die_with_parent, initargs=(os.getpid(),))
        with _main_module_not_rerun():
            futures = [self._pool.submit(fn, c, *args) for c in chunks]
        return (f.result() for f in futures)


def _die_with_parent(parent_pid: int) -> None:
    """Worker start-up: end this worker when the run that started it ends, even by kill -9 (Linux
    PR_SET_PDEATHSIG), so no reader outlives a killed run; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


@contextlib.contextmanager
def _main_module_not_rerun() -> Iterator[None]:
    """A spawned worker normally re-runs the caller's ``__main__`` script, which breaks (or worse,
    re-runs the audit) when the script has no ``if __name__ == "__main__":`` guard.  The work sent
    to the workers lives in ``dpaudit`` modules, so the workers do not need ``__main__``: hide its
    file and module name while they start."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    try:
        for k in saved:
            if k == "__file__":
                del main.__dict__[k]
            else:
                main.__dict__[k] = None
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)


class InputNotVisible(RuntimeError):
    """A file the writer planned to read cannot be seen where it is being read."""


def require_visible(paths: Iterable[Path]) -> None:
    """Stop with a plain message when planned input files cannot be seen from this process.

    The writer plans the files it sees; a worker on another machine (Dask, a Prefect worker) or
    with another working directory may not see them.  Quarantining them as unreadable would make
    the run look complete while it audited nothing, so the read fails instead."""
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise InputNotVisible(
            f"{len(missing)} input file(s) planned for reading cannot be seen by the process reading them "
            f"(pid {os.getpid()} on {socket.gethostname()}; first: {missing[0]}). The data folder must be at "
            f"the same absolute path wherever files are read (each Dask or Prefect worker); nothing was "
            f"quarantined for this. Fix the mount or path and run again.")


class DaskPool:
    """The same ``submit`` on a Dask cluster: a month's files are read, and its audit shards
    (``audit.shard``) audited, on the cluster's workers; results come back in chunk order.

    ``address`` is a scheduler (``tcp://host:8786``), or ``local`` for a cluster of ``n_workers``
    worker processes on this machine.  The workers must see a local data folder at the same path (a
    shared disk): :func:`require_visible` stops a run whose workers cannot.  A data folder given as
    an fsspec URL needs no shared disk: workers fetch their files from it (``ingest.remote``)."""

    def __init__(self, address: str = "local", n_workers: int | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if address in ("", "local"):
            self._cluster = LocalCluster(n_workers=n_workers or workers(), threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        else:
            self._client = Client(address)
        self.n = max(1, len(self._client.scheduler_info().get("workers", {})))

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def submit(self, fn: Callable[..., Any], chunks: Iterable[Any], *args: Any, parallel: bool = True) -> Iterator[Any]:
        chunks = list(chunks)
        if not chunks:
            return iter(())
        futures = self._client.map(fn, chunks, *[[a] * len(chunks) for a in args], pure=False)
        return (f.result() for f in futures)
