"""Worker threads: a few for pages, a separate pool for work that waits long.

FastAPI runs every `def` route (and Starlette its file reads) in anyio's default thread pool, 40
threads. A page's work there is mostly Python (SQLAlchemy rows, the template), which runs one thread
at a time: with ten requests in flight per process, ten threads took turns at the interpreter lock,
and the switching cost more than the page. Measured on 2 cores, 2 gallery processes, 20 clients
opening image pages nobody had opened (`bench/gallery_threads.py`, bench/RESULTS.md): 2 threads
served 1.2 times the pages per second of 40, with less CPU per page and a lower p99; 1, 2 and 4
threads did alike.

So the default pool is cut to `ATELIER_PAGE_THREADS` when the app starts, and the few routes whose
work waits for seconds (hashing a model file, an exchange with Discord, storing an upload, a health
probe of a server that may be down) run it in `run_slow`'s pool instead, so none of them holds one
of the pages' threads while it waits.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

Params = ParamSpec("Params")
Result = TypeVar("Result")

# Model imports and logins are rare; a handful at once is plenty, and more would only queue on disk.
SLOW_THREADS = 8

# One pool per event loop, as anyio keeps its default one (tests run an app on more than one loop).
_slow_pool: RunVar[CapacityLimiter] = RunVar("atelier_slow_pool")


def use_page_threads(count: int) -> None:
    """Size the running loop's default thread pool, where `def` routes and file reads run."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = count


def _slow_limiter() -> CapacityLimiter:
    try:
        return _slow_pool.get()
    except LookupError:
        limiter = CapacityLimiter(SLOW_THREADS)
        _slow_pool.set(limiter)
        return limiter


async def run_slow(work: Callable[Params, Result], *args: Params.args, **kwargs: Params.kwargs) -> Result:
    """Run blocking work that may wait for long in the slow pool, off the pages' threads."""
    return await anyio.to_thread.run_sync(partial(work, *args, **kwargs), limiter=_slow_limiter())
