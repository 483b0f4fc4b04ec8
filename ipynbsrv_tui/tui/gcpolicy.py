"""Keep Python's full garbage collections out of the UI's frame budget.

A full (generation 2) collection walks every container object the app has ever kept: with a
Textual app that is 45–65 ms on this class of machine, and while a log streams it runs about
twice a second — each one a visible stall. Once the first screen is up, `settle_heap()` moves
everything alive into the permanent generation (`gc.freeze()`, which full collections skip)
and makes full collections ten times rarer. Short-lived garbage is still freed by reference
counting and the young-generation collections as before.
"""

from __future__ import annotations

import gc

FULL_COLLECTION_RATIO = 100  # CPython's default is 10 young collections of generation 1 per full one


def settle_heap() -> None:
    """Freeze what the started app keeps, and space out full collections (process-wide)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_RATIO)
