"""Delivery records: one registration per run and destination, one claim at a time, parts counted."""

from __future__ import annotations

from datetime import timedelta

from pipelines.deliveries import DeliveryStore
from pipelines.flow import PIPELINE_VERSION
from pipelines.models import Depth, Source
from pipelines.store import RunStore

SOURCE = Source(kind="url", location="https://example.com/a.mp3", key="https://example.com/a.mp3")


async def _run(store: RunStore) -> str:
    return (await store.create_run(SOURCE, Depth.QUICK, PIPELINE_VERSION)).id


async def test_registration_is_idempotent(store: RunStore) -> None:
    deliveries = DeliveryStore(store.engine)
    run_id = await _run(store)
    first = await deliveries.add(run_id, "channel:1", channel_id="1", interaction_token="secret")
    again = await deliveries.add(run_id, "channel:1", channel_id="1")
    assert again.id == first.id and again.interaction_token == "secret"
    assert "secret" not in repr(first)
    assert len(await deliveries.for_run(run_id)) == 1


async def test_one_claim_at_a_time_and_stale_claims_are_taken_over(store: RunStore) -> None:
    deliveries = DeliveryStore(store.engine)
    record = await deliveries.add(await _run(store), "channel:1", channel_id="1")
    assert await deliveries.claim(record.id, stale_after=timedelta(minutes=10))
    assert not await deliveries.claim(record.id, stale_after=timedelta(minutes=10))
    assert await deliveries.claim(record.id, stale_after=timedelta(seconds=-1))  # the holder is presumed dead
    await deliveries.part_sent(record.id, 1, "webhook", "111")
    await deliveries.part_sent(record.id, 2, "webhook", "222")
    await deliveries.delivered(record.id)
    assert not await deliveries.claim(record.id, stale_after=timedelta(seconds=-1))
    done = await deliveries.get(record.run_id, "channel:1")
    assert done is not None
    assert (done.state, done.parts_sent, done.message_id, done.route) == ("delivered", 2, "111", "webhook")


async def test_undelivered_lists_only_finished_runs(store: RunStore) -> None:
    deliveries = DeliveryStore(store.engine)
    finished, running = await _run(store), await _run(store)
    await store.set_run_status(finished, "succeeded")
    await store.set_run_status(running, "running")
    for run_id in (finished, running):
        await deliveries.add(run_id, "channel:1", channel_id="1", interaction_token="t")
    assert [r.run_id for r in await deliveries.undelivered()] == [finished]
    assert await deliveries.unfinished_runs() == [running]
    record = await deliveries.get(finished, "channel:1")
    assert record is not None
    await deliveries.forget_token(record.id)
    await deliveries.failed(record.id, "HTTP 403")
    owed = await deliveries.undelivered()
    assert owed[0].interaction_token is None and owed[0].last_error == "HTTP 403"
