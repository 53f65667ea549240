"""The in-flight limit, in one process and shared by forked workers."""

from __future__ import annotations

import os

import pytest

from ratelimit import InFlight


@pytest.mark.parametrize("shared", [False, True])
def test_admits_up_to_the_limit_and_frees_on_release(shared: bool) -> None:
    f = InFlight(3, shared=shared)
    assert [f.try_acquire() for _ in range(5)] == [True, True, True, False, False]
    assert f.in_flight == 3
    f.release()
    assert f.in_flight == 2
    assert f.try_acquire()
    assert not f.try_acquire()
    for _ in range(3):
        f.release()
    assert f.in_flight == 0


@pytest.mark.parametrize("shared", [False, True])
def test_limit_zero_admits_nothing(shared: bool) -> None:
    assert not InFlight(0, shared=shared).try_acquire()


def test_negative_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        InFlight(-1)


def _in_workers(f: InFlight, workers: int, churn: int, hold: int) -> list[int]:
    """Fork ``workers`` processes; each does ``churn`` acquire/release pairs (racing the others),
    then tries ``hold`` acquisitions and keeps them. Returns how many each one kept."""
    r, w = os.pipe()
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # child: no pytest machinery beyond this point
            os.close(r)
            for _ in range(churn):
                if f.try_acquire():
                    f.release()
            got = sum(f.try_acquire() for _ in range(hold))
            os.write(w, got.to_bytes(4, "little"))
            os._exit(0)
        pids.append(pid)
    os.close(w)
    for pid in pids:
        os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as pipe:
        data = pipe.read()
    return [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]


def test_shared_counter_is_one_limit_across_forked_workers() -> None:
    f = InFlight(25, shared=True)
    counts = _in_workers(f, workers=4, churn=5000, hold=20)
    assert len(counts) == 4
    assert sum(counts) == 25  # not 4 x 20: one limit for all workers, and no lost updates
    assert f.in_flight == 25
    assert not f.try_acquire()


def test_local_counter_is_per_process() -> None:
    f = InFlight(25)
    assert _in_workers(f, workers=2, churn=10, hold=20) == [20, 20]
    assert f.in_flight == 0
