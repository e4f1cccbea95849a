"""The runner against a real run store (SQLite and PostgreSQL): persistence, resume, reuse."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from pipelines.errors import InternalStageError, TooLongError
from pipelines.models import Depth, RunRequest, Source
from pipelines.runner import ProgressEvent, execute, submit
from pipelines.stage import Resources, Stage, StageDeps
from pipelines.store import RunStore
from settings import Settings

SOURCE = Source(kind="url", location="https://example.org/talk.mp3", key="https://example.org/talk.mp3")


class FirstIn(BaseModel):
    request: RunRequest


class FirstOut(BaseModel):
    word: str


class SecondIn(BaseModel):
    request: RunRequest
    first: FirstOut


class SecondOut(BaseModel):
    words: list[str]
    depth: str


class Script:
    """Stage functions that count their calls and fail on demand."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.fail_second: BaseException | None = None

    async def first(self, deps: StageDeps, inputs: FirstIn) -> FirstOut:
        self.calls["first"] += 1
        return FirstOut(word=inputs.request.source.location.rsplit("/", 1)[-1])

    async def second(self, deps: StageDeps, inputs: SecondIn) -> SecondOut:
        self.calls["second"] += 1
        if self.fail_second is not None:
            raise self.fail_second
        return SecondOut(words=[inputs.first.word] * 2, depth=inputs.request.depth.value)

    def flows(self, second_depth_sensitive: bool = True, first_valid: bool = True) -> dict[Depth, Any]:
        stages = (
            Stage("first", self.first, FirstIn, FirstOut, still_valid=lambda _out: first_valid),
            Stage("second", self.second, SecondIn, SecondOut, depth_sensitive=second_depth_sensitive),
        )
        return dict.fromkeys(Depth, stages)


@pytest.fixture
def resources(make_settings: Callable[..., Settings]) -> Resources:
    return Resources(make_settings())


async def test_each_stage_is_persisted_in_order(store: RunStore, resources: Resources) -> None:
    script = Script()
    events: list[ProgressEvent] = []
    run = await submit(store, SOURCE, Depth.QUICK)
    result = await execute(store, resources, run.id, on_progress=events.append, flows=script.flows())

    stages = await store.stages(run.id)
    assert [s.stage for s in stages] == ["first", "second"]
    assert all(s.status == "succeeded" and s.attempts == 1 for s in stages)
    assert SecondOut.model_validate_json(stages[1].output_json or "").words == ["talk.mp3", "talk.mp3"]
    assert result.run.status == "succeeded"
    assert result.run.started_at is not None and result.run.finished_at is not None
    assert [(e.stage, e.status) for e in events] == [
        ("first", "started"),
        ("first", "succeeded"),
        ("second", "started"),
        ("second", "succeeded"),
    ]


async def test_timestamps_are_timezone_aware(store: RunStore, resources: Resources) -> None:
    run = await submit(store, SOURCE, Depth.QUICK)
    await execute(store, resources, run.id, flows=Script().flows())
    stored = await store.get_run(run.id)
    stage = (await store.stages(run.id))[0]
    for stamp in (stored.created_at, stored.started_at, stored.finished_at, stage.finished_at):
        assert stamp is not None and stamp.utcoffset() is not None
    assert stored.finished_at is not None and stored.finished_at >= stored.created_at


async def test_failed_stage_keeps_earlier_results_and_rerun_resumes(
    store: RunStore, resources: Resources
) -> None:
    script = Script()
    script.fail_second = TooLongError("the media is 2:00:00 long; the limit is 1:00:00")
    run = await submit(store, SOURCE, Depth.STANDARD)
    with pytest.raises(TooLongError):
        await execute(store, resources, run.id, flows=script.flows())

    failed = await store.get_run(run.id)
    assert (failed.status, failed.error_code) == ("failed", "too_long")
    assert failed.error_message == "the media is 2:00:00 long; the limit is 1:00:00"
    first, second = await store.stages(run.id)
    assert first.status == "succeeded"
    assert (second.status, second.error_code) == ("failed", "too_long")

    script.fail_second = None
    events: list[ProgressEvent] = []
    await execute(store, resources, run.id, on_progress=events.append, flows=script.flows())
    assert script.calls == {"first": 1, "second": 2}
    assert ("first", "skipped") in [(e.stage, e.status) for e in events]
    assert (await store.stages(run.id))[1].attempts == 2
    assert (await store.get_run(run.id)).status == "succeeded"


async def test_unexpected_exception_is_recorded_as_internal_error(
    store: RunStore, resources: Resources
) -> None:
    script = Script()
    script.fail_second = KeyError("boom")
    run = await submit(store, SOURCE, Depth.QUICK)
    with pytest.raises(InternalStageError):
        await execute(store, resources, run.id, flows=script.flows())
    stored = await store.get_run(run.id)
    assert stored.error_code == "internal_error"
    assert "KeyError" in (stored.error_message or "")


async def test_second_run_of_same_source_reuses_stored_stages(store: RunStore, resources: Resources) -> None:
    script = Script()
    first_run = await submit(store, SOURCE, Depth.STANDARD)
    await execute(store, resources, first_run.id, flows=script.flows())
    again = await submit(store, SOURCE, Depth.STANDARD)
    events: list[ProgressEvent] = []
    result = await execute(store, resources, again.id, on_progress=events.append, flows=script.flows())

    assert script.calls == {"first": 1, "second": 1}
    assert [s.reused_from for s in result.stages] == [first_run.id, first_run.id]
    assert [e.status for e in events] == ["reused", "reused"]
    assert isinstance(result.outputs["second"], SecondOut)

    third = await submit(store, SOURCE, Depth.STANDARD)
    chained = await execute(store, resources, third.id, flows=script.flows())
    assert [s.reused_from for s in chained.stages] == [first_run.id, first_run.id]


async def test_fresh_run_recomputes(store: RunStore, resources: Resources) -> None:
    script = Script()
    await execute(store, resources, (await submit(store, SOURCE, Depth.QUICK)).id, flows=script.flows())
    fresh = await submit(store, SOURCE, Depth.QUICK, fresh=True)
    result = await execute(store, resources, fresh.id, flows=script.flows())
    assert script.calls == {"first": 2, "second": 2}
    assert all(s.reused_from is None for s in result.stages)


async def test_depth_sensitive_stage_is_not_reused_across_depths(
    store: RunStore, resources: Resources
) -> None:
    script = Script()
    await execute(store, resources, (await submit(store, SOURCE, Depth.QUICK)).id, flows=script.flows())
    deep = await submit(store, SOURCE, Depth.DEEP)
    result = await execute(store, resources, deep.id, flows=script.flows())
    assert script.calls == {"first": 1, "second": 2}
    out = result.outputs["second"]
    assert isinstance(out, SecondOut) and out.depth == "deep"


async def test_other_sources_are_not_reused(store: RunStore, resources: Resources) -> None:
    script = Script()
    await execute(store, resources, (await submit(store, SOURCE, Depth.QUICK)).id, flows=script.flows())
    other = Source(kind="url", location="https://example.org/b.mp3", key="https://example.org/b.mp3")
    await execute(store, resources, (await submit(store, other, Depth.QUICK)).id, flows=script.flows())
    assert script.calls == {"first": 2, "second": 2}


async def test_stages_after_a_recomputed_stage_are_recomputed_too(
    store: RunStore, resources: Resources
) -> None:
    script = Script()
    flows = script.flows(first_valid=False)  # "first" is never reusable; "second" would be
    await execute(store, resources, (await submit(store, SOURCE, Depth.QUICK)).id, flows=flows)
    result = await execute(store, resources, (await submit(store, SOURCE, Depth.QUICK)).id, flows=flows)
    assert script.calls == {"first": 2, "second": 2}
    assert all(s.reused_from is None for s in result.stages)


async def test_a_stage_is_reused_only_from_a_run_with_the_same_inputs(
    store: RunStore, resources: Resources
) -> None:
    script = Script()
    older = await submit(store, SOURCE, Depth.QUICK)
    await execute(store, resources, older.id, flows=script.flows())
    script.fail_second = TooLongError("too long")
    newer = await submit(store, SOURCE, Depth.QUICK, fresh=True)  # recomputes "first", "second" fails
    with pytest.raises(TooLongError):
        await execute(store, resources, newer.id, flows=script.flows())
    script.fail_second = None

    result = await execute(
        store, resources, (await submit(store, SOURCE, Depth.QUICK)).id, flows=script.flows()
    )
    first, second = result.stages
    assert first.reused_from == newer.id
    assert second.reused_from is None  # the older "second" was computed from another "first"
    assert script.calls == {"first": 2, "second": 3}
