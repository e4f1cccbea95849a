"""Transcripts cached by the media's content hash, in the run store's database.

A re-upload of the same file (a new URL or attachment, the same bytes) skips transcription:
the key is the SHA-256 of the audio plus everything that changes the transcript (model,
language, beam size). Entries are written once and read by every process sharing the store.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import String, Text, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from observability.metrics import CACHE_LOOKUPS
from pipelines.dbretry import retrying
from pipelines.models import Transcript
from pipelines.tables import Base, UTCDateTime, utcnow
from settings import WhisperSettings


class TranscriptCacheRow(Base):
    """One cached transcript (migration 0005)."""

    __tablename__ = "transcript_cache"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    transcript_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def transcript_key(digest: str, model: str, config: WhisperSettings) -> str:
    """The cache key of a transcription of these bytes with this model and these options."""
    options = f"{model}|{config.language or 'auto'}|beam{config.beam_size}"
    return f"sha256:{digest}:" + hashlib.sha256(options.encode("utf-8")).hexdigest()[:16]


class TranscriptCache:
    """Read and write cached transcripts."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @retrying
    async def get(self, key: str) -> Transcript | None:
        """The cached transcript for `key`, or None (counted as a hit or miss)."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(TranscriptCacheRow.transcript_json).where(TranscriptCacheRow.key == key)
            )
        CACHE_LOOKUPS.labels(cache="transcript", result="hit" if found else "miss").inc()
        return Transcript.model_validate_json(found) if found else None

    @retrying
    async def put(self, key: str, transcript: Transcript) -> None:
        """Store a transcript (a concurrent writer of the same key wins; both are identical)."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(TranscriptCacheRow).values(
                        key=key, transcript_json=transcript.model_dump_json(), created_at=utcnow()
                    )
                )
        except IntegrityError:
            pass
