from experience.presence import IDLE_GRACE_S, PresenceBoard, Whereabouts


def test_dwell_runs_from_arrival_to_the_next_exhibit():
    where = Whereabouts()
    assert where.seen("tablet-1", 7, now=100.0) == (True, None)
    assert where.seen("tablet-1", 7, now=110.0) == (False, None)  # same exhibit: no new visit
    entered, left = where.seen("tablet-1", 12, now=125.0)
    assert entered and left is not None
    assert (left.exhibit_id, left.dwell_s) == (7, 25.0)
    assert dict(where.counts) == {12: 1}


def test_a_silent_tablet_dwells_only_until_its_last_sign_of_life_plus_grace():
    where = Whereabouts()
    where.seen("bench", 7, now=0.0)
    where.seen("bench", 7, now=10.0)
    left = where.leave("bench", now=3600.0)
    assert left is not None and left.dwell_s == 10.0 + IDLE_GRACE_S
    assert where.leave("bench", now=3601.0) is None
    assert not where.counts


def test_head_counts_follow_arrivals_and_departures():
    where = Whereabouts()
    for i in range(5):
        where.seen(f"t{i}", 7, now=0.0)
    where.seen("t0", 12, now=1.0)
    where.leave("t1", now=2.0)
    assert dict(where.counts) == {7: 3, 12: 1}


def test_board_sums_processes_and_forgets_a_silent_one():
    board = PresenceBoard()
    board.report("a", 7, 3, now=0.0)
    board.report("b", 7, 2, now=0.0)
    board.report("b", 12, 1, now=0.0)
    assert board.total(7) == 5 and board.totals() == {7: 5, 12: 1}
    board.heartbeat("a", now=20.0)
    assert sorted(board.forget_silent(now=20.0, after_s=15.0)) == [7, 12]
    assert board.totals() == {7: 3}
    board.report("a", 7, 0, now=21.0)
    assert board.total(7) == 0
