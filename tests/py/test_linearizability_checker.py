"""The register checker used by the cluster suite must be able to fail."""

from linearizability import Op, check


def test_sequential_history_passes():
    h = [
        Op("k", "put", "a", 0, 1),
        Op("k", "get", "a", 2, 3),
        Op("k", "delete", None, 4, 5),
        Op("k", "get", None, 6, 7),
    ]
    assert check(h) == (True, None)


def test_a_stale_read_is_caught():
    # The read starts after the second write completed, yet sees the first.
    h = [
        Op("k", "put", "a", 0, 1),
        Op("k", "put", "b", 2, 3),
        Op("k", "get", "a", 4, 5),
    ]
    assert check(h) == (False, "k")


def test_a_resurrected_delete_is_caught():
    h = [
        Op("k", "put", "a", 0, 1),
        Op("k", "delete", None, 2, 3),
        Op("k", "get", "a", 4, 5),
    ]
    assert check(h) == (False, "k")


def test_concurrent_ops_may_order_either_way():
    h = [
        Op("k", "put", "a", 0, 10),
        Op("k", "put", "b", 1, 9),
        Op("k", "get", "a", 11, 12),
        Op("j", "get", None, 0, 1),
    ]
    assert check(h) == (True, None)


def test_unknown_writes_may_or_may_not_have_happened():
    took = [Op("k", "put", "a", 0, 1), Op("k", "put", "b", 2, None), Op("k", "get", "b", 5, 6)]
    lost = [Op("k", "put", "a", 0, 1), Op("k", "put", "b", 2, None), Op("k", "get", "a", 5, 6)]
    assert check(took) == (True, None)
    assert check(lost) == (True, None)
    # But not a value nobody wrote.
    assert check(lost + [Op("k", "get", "z", 7, 8)]) == (False, "k")
