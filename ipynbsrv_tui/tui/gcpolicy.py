"""Keep Python's full garbage collections out of the UI's frame budget.

A full (generation 2) collection walks every container object the app has ever kept: with a
Textual app that is 45–65 ms on this class of machine, and while a log streams it runs about
twice a second — each one a visible stall. Once the first screen is up, `settle_heap()` moves
everything alive into the permanent generation (`gc.freeze()`, which full collections skip).

Full collections then keep CPython's usual pace. Spacing them out further (tried: ten times
rarer) lets the cyclic garbage of a streaming log pile up, about 40,000 objects, and the one
collection that finally frees it took 50–70 ms, over the frame budget; at the usual pace each one
takes 10–20 ms.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Freeze what the started app keeps (process-wide); collections keep their usual thresholds."""
    gc.collect()
    gc.freeze()
