"""What every dpaudit flow shares: the global concurrency limit held while it works.

Every dpaudit flow (monthly, year end, decisions import) takes one slot of the Prefect global
concurrency limit :data:`CONCURRENCY_LIMIT` (limit 1, created by ``python -m flows.deploy`` or
``prefect gcl create dpaudit --limit 1``), so a scheduled monthly run, a year end and a decisions
import queue behind each other in Prefect instead of holding a serve slot while they wait for
the store.  The store's single-writer lock still stops a CLI run and a flow run from interleaving.
Where the limit does not exist (ephemeral mode, tests) the flow says so and goes on.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prefect import get_run_logger
from prefect.concurrency.sync import concurrency

CONCURRENCY_LIMIT = "dpaudit"  # name of the global concurrency limit every dpaudit flow holds
CONCURRENCY_SLOTS = 1


@contextlib.contextmanager
def dpaudit_slot(what: str, wait_seconds: float) -> Iterator[None]:
    """Hold the dpaudit concurrency slot for ``what`` (waiting up to ``wait_seconds``), logging the wait."""
    logger = get_run_logger()
    logger.info("%s: taking the '%s' concurrency slot; while another dpaudit flow run holds it this run "
                "waits (up to %g s)", what, CONCURRENCY_LIMIT, wait_seconds)
    t0 = time.monotonic()
    with concurrency(CONCURRENCY_LIMIT, occupy=CONCURRENCY_SLOTS, timeout_seconds=max(float(wait_seconds), 1.0),
                     strict=False):
        waited = time.monotonic() - t0
        if waited >= 1.0:
            logger.info("%s: got the '%s' slot after waiting %.0f s", what, CONCURRENCY_LIMIT, waited)
        yield


def ensure_concurrency_limit() -> None:
    """Create (or correct) the global concurrency limit on the Prefect server in use."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(CONCURRENCY_LIMIT, CONCURRENCY_SLOTS)
