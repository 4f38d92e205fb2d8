"""Backoff and error classification of the Kubernetes transport (no I/O)."""

from __future__ import annotations

from nebula_credential.kubernetes import RetryPolicy
from nebula_credential.kubernetes.writes import CONFLICT_BACKOFF


def test_lost_races_back_off_with_the_retry_policy() -> None:
    assert isinstance(CONFLICT_BACKOFF, RetryPolicy)
    for attempt in range(1, 12):
        ceiling = min(0.5, 0.01 * 2 ** (attempt - 1))
        pauses = [CONFLICT_BACKOFF.delay(attempt, None) for _ in range(50)]
        assert all(0 <= pause <= ceiling for pause in pauses)
    assert len({CONFLICT_BACKOFF.delay(3, None) for _ in range(50)}) > 1  # jittered
