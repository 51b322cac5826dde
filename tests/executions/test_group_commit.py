"""Group commit (executions/services/group_commit.py): posts stored at the same time by one process's
threads share one transaction, each in a savepoint of its own. Real threads, each on its own database
connection (SQLite file or PostgreSQL); the first post is held inside its work until the others queue,
so the grouping is certain, not left to timing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError, connection

from executions.models import Event
from executions.services import group_commit
from executions.services.events import events_check, events_store
from executions.services.group_commit import GroupCommit
from governance.common.db_locks import is_lock_timeout
from governance.models import Tenant
from governance.quotas import QuotaExceeded, quota_counts_in_database
from tests.executions.workers import race, wait_for
from tests.services import patient_locks, write_lock_held

pytestmark = pytest.mark.django_db(transaction=True)


def insert(tenant: Tenant, key: str) -> Callable[[], int]:
    def work() -> int:
        return Event.objects.create(tenant=tenant, event_type="product_added", idempotency_key=key, payload={}).pk

    return work


class Posts:
    """Posts run on threads of their own through one GroupCommit; the first is held inside its work until
    ``release()``, so every later post queues behind it and makes the next group."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.groups: GroupCommit[Any] = GroupCommit()
        self.sizes: list[int] = []
        self.gate = threading.Event()
        self.outcomes: dict[str, Any] = {}
        self.threads: list[threading.Thread] = []
        commit = group_commit._commit

        def counted(group: list[Any]) -> None:
            self.sizes.append(len(group))
            commit(group)

        monkeypatch.setattr(group_commit, "_commit", counted)

    def start(self, name: str, work: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                self.outcomes[name] = self.groups.run(work)
            except Exception as error:  # collected for the assertions
                self.outcomes[name] = error
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()

    def start_held(self, work: Callable[[], Any]) -> None:
        def held() -> Any:
            assert self.gate.wait(30)
            return work()

        self.start("held", held)
        wait_for(lambda: self.sizes == [1], timeout=30, message="the first post leading a group of its own")

    def queued(self, count: int) -> None:
        wait_for(lambda: len(self.groups._queued) == count, timeout=30, message=f"{count} posts queued")

    def release(self) -> dict[str, Any]:
        self.gate.set()
        for thread in self.threads:
            thread.join(timeout=60)
        return self.outcomes


def test_posts_that_arrive_together_share_one_transaction_and_each_gets_its_own_answer(tenant, monkeypatch):
    posts = Posts(monkeypatch)
    with patient_locks():
        posts.start_held(insert(tenant, "held"))
        for name in ("a", "b", "c", "d"):
            posts.start(name, insert(tenant, name))
        posts.queued(4)
        outcomes = posts.release()

    # the held post made a group of its own; the four that came meanwhile one more, led by the oldest
    assert posts.sizes == [1, 4]
    stored = dict(Event.objects.values_list("idempotency_key", "pk"))
    assert outcomes == {name: stored[name] for name in ("held", "a", "b", "c", "d")}
    assert not posts.groups._leading and not posts.groups._queued


def test_a_post_that_fails_is_undone_alone_and_gets_its_own_error(tenant, monkeypatch):
    def fails_after_writing() -> None:
        insert(tenant, "bad")()
        raise ValueError("the receiver of this post failed")

    posts = Posts(monkeypatch)
    with patient_locks():
        posts.start_held(insert(tenant, "held"))
        posts.start("a", insert(tenant, "a"))
        posts.queued(1)
        posts.start("bad", fails_after_writing)
        posts.queued(2)
        posts.start("b", insert(tenant, "b"))
        posts.queued(3)
        outcomes = posts.release()

    assert posts.sizes == [1, 3]
    assert isinstance(outcomes["bad"], ValueError)
    assert sorted(Event.objects.values_list("idempotency_key", flat=True)) == ["a", "b", "held"]
    assert all(isinstance(outcomes[name], int) for name in ("held", "a", "b"))


def test_a_group_that_cannot_write_stores_nothing_and_every_post_gets_the_lock_timeout(tenant, monkeypatch):
    # given: another connection holds the write lock longer than the posts' connections wait (0.2 s)
    posts = Posts(monkeypatch)
    with write_lock_held(Event._meta.db_table), patient_locks(0.2):
        posts.start_held(insert(tenant, "held"))
        posts.start("a", insert(tenant, "a"))
        posts.start("b", insert(tenant, "b"))
        posts.queued(2)
        outcomes = posts.release()

    # then: each post answers with the lock timeout (the API's 503) and nothing was stored
    assert posts.sizes == [1, 2]
    assert all(isinstance(error, OperationalError) and is_lock_timeout(error) for error in outcomes.values()), outcomes
    assert not Event.objects.exists()


def test_concurrent_posts_keep_the_tenants_quota_exactly(tenant, monkeypatch):
    # given: room for six events this minute, counted in the database, so posts of several events go
    # through group commit (on PostgreSQL a lone event is one autocommit INSERT instead)
    assert quota_counts_in_database()
    Tenant.objects.filter(pk=tenant.pk).update(events_per_minute_quota=6)
    grouped: list[int] = []
    commit = group_commit._commit
    monkeypatch.setattr(group_commit, "_commit", lambda group: (grouped.append(len(group)), commit(group)))

    def post(key: str) -> Callable[[], Any]:
        checked = events_check(
            [{"tenant_id": tenant.pk, "event_type": "product_added", "idempotency_key": f"{key}-{n}"} for n in (1, 2)]
        )
        return lambda: events_store(checked)

    # when: six posts of two events each arrive at once
    outcomes = race(*[post(f"p{n}") for n in range(6)])

    # then: three posts stored and answered, three refused whole
    refused = [outcome for outcome in outcomes if isinstance(outcome, QuotaExceeded)]
    accepted = [outcome for outcome in outcomes if isinstance(outcome, list)]
    assert len(refused) == 3 and len(accepted) == 3, outcomes
    assert sum(grouped) == 6  # every post went through events_store's group commit
    assert sorted(result.id for results in accepted for result in results) == sorted(
        Event.objects.values_list("pk", flat=True)
    )
