"""A linearizability checker for a map of registers (Wing & Gong's search with
memoization, per key), for histories recorded by concurrent S3 clients.

An operation is (key, kind, value, start, end, ok):
  kind "put" writes `value`; "delete" writes None; "get" observed `value`
  (None: 404). `end` is None when the outcome is unknown (timeout, 5xx, the
  client died): such a write may take effect at any point after `start`, or
  never; unknown reads are dropped, since they observed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
import math


@dataclass(frozen=True)
class Op:
    key: str
    kind: str  # put | delete | get
    value: object
    start: float
    end: float | None  # None: outcome unknown


def _check_key(ops: list[Op], initial=None) -> bool:
    ops = [o for o in ops if not (o.kind == "get" and o.end is None)]
    n = len(ops)
    ends = [o.end if o.end is not None else math.inf for o in ops]
    optional = [o.end is None for o in ops]
    seen = set()

    def search(done: int, value) -> bool:
        if done == (1 << n) - 1:
            return True
        state = (done, value)
        if state in seen:
            return False
        seen.add(state)
        # An op may go next only if it started before every pending op ended.
        pending = [i for i in range(n) if not done >> i & 1]
        horizon = min(ends[i] for i in pending)
        for i in pending:
            o = ops[i]
            if o.start > horizon:
                continue
            if o.kind == "get":
                if o.value == value and search(done | 1 << i, value):
                    return True
            else:
                new = o.value if o.kind == "put" else None
                if search(done | 1 << i, new):
                    return True
            # An unknown write may also never have happened.
            if optional[i] and search(done | 1 << i, value):
                return True
        return False

    return search(0, initial)


def check(history: list[Op]) -> tuple[bool, str | None]:
    """Whether the history is linearizable; if not, the first key that is not."""
    by_key: dict[str, list[Op]] = {}
    for o in history:
        by_key.setdefault(o.key, []).append(o)
    for key, ops in sorted(by_key.items()):
        if len(ops) > 60:
            raise ValueError(f"{len(ops)} ops on {key}: too many for the search")
        if not _check_key(sorted(ops, key=lambda o: o.start)):
            return False, key
    return True, None
