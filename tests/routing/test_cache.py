"""The response cache (in-process LRU and Redis) on the real task path, and the transcript cache."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from crews.builder import run_task, task_text
from crews.schemas import VerdictOutput
from fakes.openai_server import Fault, ScriptedOpenAI
from pipelines.stage import Resources, StageDeps
from pipelines.store import RunStore
from pipelines.transcribe import TranscribeInputs, transcribe
from pipelines.transcripts import TranscriptCache
from routing.budget import Budget, TaskFailed
from routing.cache import MemoryBackend, RedisBackend, ResponseCache, open_cache
from settings import Settings

DATA = Path(__file__).parents[1] / "data"
PROMPT = task_text("fact_check", claim="Water boils at 100 C at sea level.", evidence="[1] It does.")


@pytest.fixture(params=["memory", "redis"])
def cache_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-process LRU, else the URL of a real, emptied Redis database."""
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else None


@pytest.fixture
def cached_resources(
    cache_url: str | None, make_settings: Callable[..., Settings], servers: dict[str, ScriptedOpenAI]
) -> Resources:
    """Resources for a one-model catalogue with the in-process or the Redis response cache."""
    settings = make_settings(llm={"base_url": servers["primary"].base_url, "model": "primary"})
    resources = Resources(settings)
    if cache_url is not None:
        resources.responses = ResponseCache(RedisBackend.connect(cache_url))
    else:
        resources.responses = ResponseCache(MemoryBackend(100))
    return resources


async def ask(resources: Resources, prompt: str = PROMPT) -> str:
    answer = await run_task("fact_check", resources, prompt, VerdictOutput, Budget(10**6))
    return answer.value.verdict


async def test_repeat_is_a_hit(cached_resources: Resources, servers: dict[str, ScriptedOpenAI]) -> None:
    assert await ask(cached_resources) == "supported"
    assert await ask(cached_resources) == "supported"
    assert len(servers["primary"].requests) == 1
    await cached_resources.responses.close()


async def test_changed_prompt_or_parameters_miss(
    cached_resources: Resources, servers: dict[str, ScriptedOpenAI], make_settings: Callable[..., Settings]
) -> None:
    await ask(cached_resources)
    await ask(cached_resources, PROMPT + " ")
    assert len(servers["primary"].requests) == 2
    warmer = Resources(
        make_settings(llm={"base_url": servers["primary"].base_url, "model": "primary", "temperature": 0.7}),
        responses=cached_resources.responses,
    )
    await ask(warmer)
    assert len(servers["primary"].requests) == 3
    await cached_resources.responses.close()


async def test_concurrent_identical_requests_call_the_model_once(
    cached_resources: Resources, servers: dict[str, ScriptedOpenAI]
) -> None:
    servers["primary"].delay = 0.3
    verdicts = await asyncio.gather(*(ask(cached_resources) for _ in range(6)))
    assert verdicts == ["supported"] * 6
    assert len(servers["primary"].requests) == 1
    await cached_resources.responses.close()


async def test_errors_are_never_cached(
    cached_resources: Resources, servers: dict[str, ScriptedOpenAI]
) -> None:
    servers["primary"].faults["VerdictOutput"] = Fault("http", 1, 500)
    with pytest.raises(TaskFailed, match="request failed"):
        await ask(cached_resources)
    assert await ask(cached_resources) == "supported"
    assert len(servers["primary"].requests) == 2
    await cached_resources.responses.close()


async def test_separate_processes_share_redis_answers(
    make_settings: Callable[..., Settings], servers: dict[str, ScriptedOpenAI], redis_url: str
) -> None:
    settings = make_settings(
        llm={"base_url": servers["primary"].base_url, "model": "primary"}, redis={"url": redis_url}
    )
    first, second = Resources(settings, responses=open_cache(settings)), Resources(settings)
    second.responses = open_cache(settings)
    servers["primary"].delay = 0.3
    await asyncio.gather(ask(first), ask(second))  # two caches, one Redis: one model call
    assert len(servers["primary"].requests) == 1
    for resources in (first, second):
        await resources.responses.close()


async def test_lru_expires_and_evicts() -> None:
    now = [0.0]
    backend = MemoryBackend(2, clock=lambda: now[0])
    await backend.set("a", "1", ttl=10)
    await backend.set("b", "2", ttl=100)
    assert await backend.get("a") == "1"  # a is now the most recently used
    await backend.set("c", "3", ttl=100)  # evicts b
    assert await backend.get("b") is None and await backend.get("c") == "3"
    now[0] = 11
    assert await backend.get("a") is None  # expired


def test_cache_can_be_switched_off(make_settings: Callable[..., Settings]) -> None:
    assert open_cache(make_settings(cache={"enabled": False})) is None
    assert isinstance(open_cache(make_settings()).backend, MemoryBackend)  # type: ignore[union-attr]


async def test_reupload_of_the_same_file_skips_transcription(
    make_settings: Callable[..., Settings], store: RunStore, tmp_path: Path
) -> None:
    from pipelines.models import Media

    settings, cache = make_settings(), TranscriptCache(store.engine)
    runs = []
    for name in ("first.flac", "again.flac"):  # the same bytes under another name, in a new process
        path = tmp_path / name
        shutil.copy(DATA / "jfk.flac", path)
        media = Media(audio_path=str(path), title=name, duration_seconds=11.0)
        resources = Resources(settings, transcripts=cache)
        deps = StageDeps(resources, run_id=name, workdir=tmp_path)
        runs.append((resources, await transcribe(deps, TranscribeInputs(acquire=media))))
    (loaded, first), (skipped, again) = runs
    assert not first.cached and "whisper" in loaded.cache
    assert again.cached and "whisper" not in skipped.cache  # Whisper was not even loaded
    assert again.segments == first.segments and again.processing_seconds == 0.0


async def test_a_dead_processes_fill_lock_lapses(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.cache

    monkeypatch.setattr(routing.cache, "LOCK_SECONDS", 0.5)
    cache = ResponseCache(RedisBackend.connect(redis_url))
    try:
        await cache.backend.lock("k")  # taken by a process that then died (never renewed)
        calls = []

        async def compute() -> str:
            calls.append(1)
            await asyncio.sleep(0.6)  # outlives one lock term: the holder renews it meanwhile
            return "answer"

        assert await cache.get_or_compute("k", 60, compute) == ("answer", "miss")
        assert await cache.get_or_compute("k", 60, compute) == ("answer", "hit")
        assert calls == [1]
        assert await RedisBackend.connect(redis_url).client.exists("k:lock") == 0
    finally:
        await cache.close()


async def test_a_guilds_private_evidence_never_answers_another_guild_from_the_cache(
    cached_resources: Resources, servers: dict[str, ScriptedOpenAI]
) -> None:
    from memory.embeddings import MiniLMEmbedder
    from memory.vector import MemoryItem, VectorMemory
    from pipelines.models import Claim
    from pipelines.verify import check_claim

    embedder = MiniLMEmbedder()
    claim = Claim(id=1, text="The harbour bridge opened in 1932.", timestamp=0, checkworthiness=5)
    private = "Our own survey notes say the harbour bridge opened to traffic in March 1932."
    async with await VectorMemory.open(cached_resources.settings, embedder, location=":memory:") as memory:
        resources = Resources(
            cached_resources.settings, memory=memory, embedder=embedder, responses=cached_resources.responses
        )
        await memory.upsert("111", [MemoryItem(text=private, kind="summary", run_id="run-a")])
        own = "Guild records: the harbour bridge opened in 1932."
        await memory.upsert("222", [MemoryItem(text=own, kind="summary", run_id="run-b")])
        await check_claim(resources, "111", claim, Budget(10**6), None)
        await check_claim(resources, "111", claim, Budget(10**6), None)
        assert len(servers["primary"].requests) == 1  # the cache answers a guild's own repeat
        await check_claim(resources, "222", claim, Budget(10**6), None)  # not 111's cached verdict
    prompts = [str(body["messages"]) for body in servers["primary"].requests]
    assert len(prompts) == 2 and "survey notes" in prompts[0] and "Guild records" not in prompts[0]
    assert "survey notes" not in prompts[1] and "Guild records" in prompts[1]
    await cached_resources.responses.close()
