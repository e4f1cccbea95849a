"""A real web server on 127.0.0.1 for the evidence tests and benchmarks (aiohttp, free port).

`WebPages` serves a table of routes: path -> (status, headers, body), where the body is bytes
or an async handler. Helpers add realistic article pages (navigation menu, cookie banner,
scripts and footer around the article's paragraphs), robots.txt, redirects, slow answers,
huge bodies generated lazily while streaming, binary files and a windows-1252 page. It logs
every request path (`requests`) and User-Agent, how many bytes each path sent, and the most
requests it handled at once.
"""

from __future__ import annotations

import asyncio
import html
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Body = bytes | Handler

NAV = (
    '<header><nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/world">World news</a></li>'
    '<li><a href="/sport">Sport results</a></li><li><a href="/login">Sign in to your account</a></li></ul>'
    "</nav></header>"
)
COOKIE_BANNER = (
    '<div id="cookie-consent" class="cookie-banner"><p>We use cookies to personalise advertising. '
    "By clicking Accept all cookies you agree to our partners' tracking.</p>"
    "<button>Accept all cookies</button></div>"
)
SCRIPT = '<script>window.analyticsQueue = ["trackPageView", "tracking-pixel-secret"];</script>'
FOOTER = (
    '<footer><ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li>'
    "</ul><p>Subscribe to our newsletter for the daily digest of top stories.</p></footer>"
)
BOILERPLATE_WORDS = ("Sign in to your account", "Accept all cookies", "tracking-pixel-secret", "newsletter")


def article_html(
    title: str, paragraphs: list[str], published: str | None = None, charset: str = "utf-8"
) -> str:
    """A news-site page: boilerplate around an <article> with `title` and `paragraphs`."""
    meta = f'<meta property="article:published_time" content="{published}T09:30:00Z">' if published else ""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="{charset}">'
        f"<title>{html.escape(title)} | The Daily Example</title>{meta}{SCRIPT}</head><body>"
        f"{NAV}{COOKIE_BANNER}<main><article><h1>{html.escape(title)}</h1>{body}</article></main>"
        "<aside><h3>Most read</h3><ul><li>Ten celebrity recipes you must try</li></ul></aside>"
        f"{FOOTER}</body></html>"
    )


@dataclass
class WebPages:
    """The running server: `routes`, the request log and counters."""

    routes: dict[str, tuple[int, dict[str, str], Body]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # path with query, in arrival order
    user_agents: list[str] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    max_in_flight: int = 0
    base_url: str = ""
    _in_flight: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Start listening on a free port of 127.0.0.1; returns the base URL."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2, handler_cancellation=True)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    async def stop(self) -> None:
        """Stop the server (unfinished slow answers are cancelled)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str) -> str:
        """The absolute URL of `path`."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def hits(self, path: str) -> int:
        """How many requests asked for `path` (query ignored)."""
        return sum(1 for seen in self.requests if seen.split("?", 1)[0] == path)

    def add(
        self,
        path: str,
        body: Body,
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve `body` at `path`; returns its URL."""
        all_headers = {"Content-Type": content_type} if content_type else {}
        self.routes[path] = (status, {**all_headers, **(headers or {})}, body)
        return self.url(path)

    def article(self, path: str, title: str, paragraphs: list[str], published: str | None = None) -> str:
        """Serve a realistic news page (see `article_html`)."""
        return self.add(path, article_html(title, paragraphs, published).encode())

    def robots(self, text: str) -> None:
        """Serve robots.txt."""
        self.add("/robots.txt", text.encode(), content_type="text/plain")

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """Answer `path` with a redirect to `location` (absolute or relative)."""
        return self.add(path, b"", status=status, content_type=None, headers={"Location": location})

    def slow(self, path: str, seconds: float, body: bytes = b"<html><p>Finally.</p></html>") -> str:
        """Answer `path` after `seconds` (the page is served normally if the client waits)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            await asyncio.sleep(seconds)
            return web.Response(body=body, content_type="text/html")

        return self.add(path, handler)

    def huge(self, path: str, size: int = 50 * 1024 * 1024, *, declare_length: bool = False) -> str:
        """Stream `size` bytes of HTML, generated chunk by chunk (never held in memory at once)."""
        chunk = b"<p>" + b"filler text " * 5400 + b"</p>\n"  # about 64 KiB

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
            if declare_length:
                response.content_length = size
            await response.prepare(request)
            sent = 0
            try:
                while sent < size:
                    piece = chunk[: size - sent]
                    await response.write(piece)
                    sent += len(piece)
                    self.bytes_sent[path] = sent
                await response.write_eof()
            except ConnectionError:
                pass  # the client stopped reading (size cap)
            return response

        return self.add(path, handler)

    def binary(self, path: str, content_type: str | None = "image/png") -> str:
        """A PNG-like binary file (NUL bytes included) served as `content_type`."""
        data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 16
        return self.add(path, data, content_type=content_type)

    def windows_1252(self, path: str, *, header_charset: str | None = "ISO-8859-1") -> str:
        """A windows-1252 page ("café", “curly quotes”); charset in the header, or only in <meta>."""
        paragraphs = [
            "The café on the corner opened in 1923 and still serves the same “house blend” every morning.",
            "Its owner, Zoë Müller, says the recipe came from her grandmother’s notebook.",
        ]
        page = article_html("A café with history", paragraphs, charset="windows-1252").encode("cp1252")
        content_type = f"text/html; charset={header_charset}" if header_charset else "text/html"
        return self.add(path, page, content_type=content_type)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        self.user_agents.append(request.headers.get("User-Agent", ""))
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            route = self.routes.get(request.path)
            if route is None:
                return web.Response(status=404, text="not found")
            status, headers, body = route
            if callable(body):
                return await body(request)
            self.bytes_sent[request.path] = self.bytes_sent.get(request.path, 0) + len(body)
            return web.Response(status=status, headers=headers, body=body)
        finally:
            self._in_flight -= 1
