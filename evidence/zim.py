"""The offline evidence provider: full-text search in a Kiwix ZIM file through libzim.

`ZimArchive.search` answers like the other providers (`evidence.providers`): `SearchHit`s that
carry the article's plain text, so nothing is fetched. libzim's index matches only articles
holding every word of a query; `relaxed_search` ranks the rest by the words they share.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from evidence.passages import html_to_text
from evidence.providers import (
    ARTICLE_CHARS,
    SPACE,
    ProviderError,
    SearchHit,
    query_words,
    short_cause,
    truncate,
)

log = logging.getLogger(__name__)

SNIPPET_CHARS = 300  # a hit's snippet: the article's first characters (ZIM has no snippets)
ZIM_WORDS = 24  # a long claim's first content words a relaxed search considers
ZIM_TERMS = 12  # of those, the most specific ones, each searched alone
ZIM_POSTINGS = 100  # articles read per word (all of them for a word in fewer articles)


class ZimArchive:
    """Full-text search in an offline Kiwix ZIM file (opened on first use, then kept open)."""

    name = "zim"

    def __init__(self, path: Path, *, max_chars: int = ARTICLE_CHARS) -> None:
        self.path = Path(path)
        self.max_chars = max_chars
        self._archive: Any = None
        self._published: str | None = None
        self._lock = threading.Lock()

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        """Up to `limit` articles for `query`, best first, with their plain text.

        Raises ProviderError when the file is missing, unreadable or has no full-text index.
        """
        if limit <= 0 or not query.strip():
            return []
        return await asyncio.to_thread(self._search, query, limit)

    def _open(self) -> Any:
        """The open archive (opened once, under a lock, in a worker thread)."""
        from libzim.reader import Archive

        with self._lock:
            if self._archive is not None:
                return self._archive
            if not self.path.is_file():
                raise ProviderError(self.name, f"ZIM archive {self.path} does not exist: check ZIM_PATH")
            try:
                archive = Archive(self.path)
            except RuntimeError as exc:
                reason = f"ZIM archive {self.path} cannot be read ({short_cause(exc)})"
                raise ProviderError(self.name, reason) from exc
            if not archive.has_fulltext_index:
                reason = f"ZIM archive {self.path.name} has no full-text index, so it cannot be searched"
                raise ProviderError(self.name, reason)
            if "Date" in archive.metadata_keys:
                self._published = archive.get_metadata("Date").decode("utf-8", "replace").strip() or None
            self._archive = archive
            return archive

    def _search(self, query: str, limit: int) -> list[SearchHit]:
        """The blocking search: query the Xapian index, then read and convert each article."""
        from libzim.search import Searcher

        archive = self._open()
        try:
            paths = relaxed_search(Searcher(archive), query, limit, archive.article_count)
        except RuntimeError as exc:
            reason = f"ZIM archive {self.path.name} could not search ({short_cause(exc)})"
            raise ProviderError(self.name, reason) from exc
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for path in paths:
            try:
                entry = archive.get_entry_by_path(path)
                if entry.is_redirect:
                    entry = entry.get_redirect_entry()
                item = entry.get_item()
                content = bytes(item.content).decode("utf-8", "replace")
            except (KeyError, RuntimeError):  # an index entry without its article: skip it
                log.info("ZIM archive %s: no article at %s", self.path.name, path)
                continue
            if entry.path in seen:
                continue
            seen.add(entry.path)
            text = html_to_text(content) if "html" in item.mimetype else content.strip()
            hits.append(
                SearchHit(
                    provider=self.name,
                    url=f"zim://{quote(self.path.name)}/{quote(entry.path, safe='/;@$!*(),~:')}",
                    title=entry.title or entry.path,
                    snippet=truncate(SPACE.sub(" ", text), SNIPPET_CHARS),
                    published=self._published,
                    text=truncate(text, self.max_chars),
                )
            )
        return hits


def relaxed_search(searcher: Any, query: str, limit: int, articles: int) -> list[str]:
    """Up to `limit` entry paths for `query` from a libzim `Searcher`, best first (blocking).

    libzim's index matches only articles holding every word of a query (Xapian's AND; its
    Python API offers no OR), and a spoken claim rarely has all its words in one article.
    So the query as written (lower-cased) comes first. While fewer than `limit` articles are
    found, the rest are ranked by coordination: each content word (the `ZIM_TERMS` most
    specific ones, in the fewest articles) is searched alone, and an article scores the IDF of
    every word among whose best `ZIM_POSTINGS` articles it is: the ranked OR the API lacks.
    Words no article holds (a mistranscription) count for nothing. `articles` is the
    archive's article count.
    """
    from libzim.search import Query

    def paths(text: str, count: int) -> list[str]:
        return list(searcher.search(Query().set_query(text)).getResults(0, count))

    query = query.lower()  # Xapian reads upper-case AND, OR and NOT as operators
    found = dict.fromkeys(paths(query, limit))
    if len(found) >= limit:
        return list(found)[:limit]
    words = query_words(query)
    holding = {w: searcher.search(Query().set_query(w)).getEstimatedMatches() for w in words[:ZIM_WORDS]}
    specific = sorted((w for w in holding if holding[w] > 0), key=lambda w: holding[w])[:ZIM_TERMS]
    scores: dict[str, float] = {}
    for word in specific:  # rarest first: ties keep the rarer word's order
        weight = math.log(1 + max(articles, 1) / holding[word])
        for path in paths(word, ZIM_POSTINGS):
            scores[path] = scores.get(path, 0.0) + weight
    for path in sorted(scores, key=lambda p: -scores[p]):
        if len(found) >= limit:
            break
        found.setdefault(path)
    return list(found)
