"""Run an iterator in a background thread so decoding overlaps the model's forward pass.

PyAV, OpenCV and torch release the GIL, so a decode thread feeding a bounded queue keeps both
cores busy while memory stays flat (at most `depth` items wait).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 8, name: str = "scenesem-decode") -> Iterator[T]:
    """Yield what `items` yields, produced ahead in a thread.

    An exception in the producer is re-raised here; closing the generator early (an error in
    the consumer, Ctrl-C) stops the producer at its next item and joins it.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    failure: list[BaseException] = []
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as err:  # handed to the consumer thread
            failure.append(err)
        finally:
            q.put(_DONE)

    worker = threading.Thread(target=produce, daemon=True, name=name)
    worker.start()
    try:
        while (item := q.get()) is not _DONE:
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(0.05)
    if failure:
        raise failure[0]
