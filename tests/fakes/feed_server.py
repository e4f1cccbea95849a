"""A real HTTP server on 127.0.0.1 serving a podcast-style RSS (and Atom) feed with audio enclosures.

The enclosures are the real speech in tests/data/claims.ogg, each under its own path. Tests
change the feed between polls (`add`), make it fail (`fail_with`), and read what was asked
(`requests`, `not_modified`). The feed carries an ETag and a Last-Modified date and answers a
matching If-None-Match with 304 Not Modified, as real feed servers do. Any query string names
another feed with the same items (many watches, one server).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from fakes.media_server import DATA, threaded_http

CLAIMS_OGG = DATA / "claims.ogg"


@dataclass(frozen=True)
class FeedItem:
    """One episode: its guid, title, publication time and enclosure path."""

    guid: str
    title: str
    published: datetime
    path: str


@dataclass
class FeedServer:
    """A running feed server; mutate the feed with `add`, break it with `fail_with`."""

    base_url: str = ""
    items: list[FeedItem] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    not_modified: int = 0
    fail_with: int | None = None  # answer the feed with this HTTP status while set
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def feed_url(self) -> str:
        """The RSS feed's URL."""
        return f"{self.base_url}/feed.xml"

    @property
    def atom_url(self) -> str:
        """The same items as an Atom feed."""
        return f"{self.base_url}/atom.xml"

    def media_url(self, item: FeedItem) -> str:
        """The enclosure URL of an item."""
        return f"{self.base_url}{item.path}"

    def add(self, title: str, published: datetime | None = None) -> FeedItem:
        """A new episode (published now unless told), newest first in the feed."""
        with self.lock:
            number = len(self.items) + 1
            item = FeedItem(
                guid=f"episode-{number}",
                title=title,
                published=published or datetime.now(UTC),
                path=f"/media/episode-{number}.ogg",
            )
            self.items.insert(0, item)
        return item

    def add_old(self, count: int) -> list[FeedItem]:
        """`count` episodes of the back catalogue (published days ago)."""
        return [
            self.add(f"Old episode {n}", datetime.now(UTC) - timedelta(days=30 - n)) for n in range(count)
        ]

    def feed_requests(self) -> list[tuple[str, dict[str, str]]]:
        """The requests for a feed document (not media)."""
        return [(path, headers) for path, headers in self.requests if not path.startswith("/media/")]

    def rss(self) -> bytes:
        """The RSS 2.0 document of the current items."""
        entries = "".join(
            f'<item><title>{escape(i.title)}</title><guid isPermaLink="false">{i.guid}</guid>'
            f"<pubDate>{format_datetime(i.published)}</pubDate>"
            f'<enclosure url="{self.media_url(i)}" length="{CLAIMS_OGG.stat().st_size}" type="audio/ogg"/>'
            f"</item>"
            for i in self.items
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Test podcast</title><link>{self.base_url}/</link><description>Claims</description>"
            f"{entries}</channel></rss>"
        ).encode()

    def atom(self) -> bytes:
        """The Atom 1.0 document of the current items."""
        entries = "".join(
            f"<entry><title>{escape(i.title)}</title><id>urn:test:{i.guid}</id>"
            f"<updated>{i.published.isoformat()}</updated><published>{i.published.isoformat()}</published>"
            f'<link rel="enclosure" type="audio/ogg" href="{self.media_url(i)}"/></entry>'
            for i in self.items
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>Test podcast</title><id>urn:test:feed</id><updated>2026-01-01T00:00:00+00:00</updated>"
            f"{entries}</feed>"
        ).encode()


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    audio = CLAIMS_OGG.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            with server.lock:
                server.requests.append((self.path, dict(self.headers.items())))
                failing = server.fail_with
            path = urlsplit(self.path).path
            if path.startswith("/media/") and path.endswith(".ogg"):
                self._send(200, "audio/ogg", audio, {})
                return
            if path not in ("/feed.xml", "/atom.xml"):
                self._send(404, "text/plain", b"not found\n", {})
                return
            if failing is not None:
                self._send(failing, "text/plain", b"feed unavailable\n", {})
                return
            with server.lock:
                body = server.rss() if path == "/feed.xml" else server.atom()
                newest = max((i.published for i in server.items), default=datetime(2020, 1, 1, tzinfo=UTC))
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                with server.lock:
                    server.not_modified += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            kind = "application/rss+xml" if path == "/feed.xml" else "application/atom+xml"
            headers = {"ETag": etag, "Last-Modified": format_datetime(newest, usegmt=True)}
            self._send(200, f"{kind}; charset=utf-8", body, headers)

    return Handler


@contextmanager
def serve_feed() -> Iterator[FeedServer]:
    """A ThreadingHTTPServer on 127.0.0.1 serving the feed and its enclosures."""
    info = FeedServer()
    with threaded_http(_handler(info)) as port:
        info.base_url = f"http://127.0.0.1:{port}"
        yield info
