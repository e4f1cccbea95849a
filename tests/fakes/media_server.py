"""A real HTTP server on 127.0.0.1 serving test media, pages with subtitles, redirects and errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).parent.parent / "data"
JFK_FLAC = DATA / "jfk.flac"

SUBTITLES_VTT = """WEBVTT

00:00:00.000 --> 00:00:04.000
And so my fellow Americans,

00:00:04.000 --> 00:00:11.000
ask not what your country can do for you, ask what you can do for your country.
"""
PAGE_WITH_SUBTITLES = (
    "<html><head><title>JFK inaugural</title></head><body>"
    '<video src="jfk.flac"><track kind="subtitles" srclang="en" src="subs.vtt"></video>'
    "</body></html>"
)
PAGE_WITH_BROKEN_SUBTITLES = PAGE_WITH_SUBTITLES.replace("subs.vtt", "missing.vtt")
HOSTILE_VTT = """WEBVTT

00:00:00.000 --> 00:00:05.000
@everyone **look here** <@&123456789012345678> [click](https://evil.example) <#42> ||x|| \u202etxt.exe\u200b

00:00:05.000 --> 00:00:11.000
# Official announcement from the server admins
"""
PAGE_WITH_HOSTILE_SUBTITLES = PAGE_WITH_SUBTITLES.replace("subs.vtt", "hostile.vtt")
PAGE_WITHOUT_MEDIA = "<html><head><title>Nothing here</title></head><body><p>Just text.</p></body></html>"


@dataclass
class MediaServer:
    """A running local server; `requests` lists every path it was asked for."""

    base_url: str
    port: int
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        """Absolute URL of `path` on this server."""
        return f"{self.base_url}/{path.lstrip('/')}"


def _handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    """The request handler class, bound to `server` for recording requests."""
    audio = JFK_FLAC.read_bytes()
    routes: dict[str, tuple[str, bytes]] = {
        "/jfk.flac": ("audio/flac", audio),
        "/claims.ogg": ("audio/ogg", (DATA / "claims.ogg").read_bytes()),  # what fakes.scripted_flow answers
        "/fake.mp3": ("audio/mpeg", b"this is a text file pretending to be an mp3\n" * 20),
        "/nomedia.html": ("text/html; charset=utf-8", PAGE_WITHOUT_MEDIA.encode()),
        "/page.html": ("text/html; charset=utf-8", PAGE_WITH_SUBTITLES.encode()),
        "/broken-subs.html": ("text/html; charset=utf-8", PAGE_WITH_BROKEN_SUBTITLES.encode()),
        "/subs.vtt": ("text/vtt", SUBTITLES_VTT.encode()),
        "/hostile.html": ("text/html; charset=utf-8", PAGE_WITH_HOSTILE_SUBTITLES.encode()),
        "/hostile.vtt": ("text/vtt", HOSTILE_VTT.encode()),
        "/empty.mp3": ("audio/mpeg", b""),
        "/secret": ("text/plain", b"internal secret\n"),
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def do_GET(self) -> None:
            server.requests.append(self.path)
            path = urlsplit(self.path).path
            if path == "/redirect":
                target = parse_qs(urlsplit(self.path).query)["to"][0]
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/ssrf-page.html":  # the media itself lives on a forbidden address
                body = f'<html><video src="http://0.0.0.0:{server.port}/secret"></video></html>'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/chunked.flac":
                self._send_chunked("audio/flac", audio)
            elif path in routes:
                content_type, body = routes[path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # yt-dlp's generic extractor reads only the start of a media file
            else:
                self.send_error(404, "Not Found")

        def _send_chunked(self, content_type: str, body: bytes) -> None:
            """A response without Content-Length (chunked transfer encoding)."""
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for start in range(0, len(body), 64 * 1024):
                    chunk = body[start : start + 64 * 1024]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the client aborted (size limit)

    return Handler


@contextmanager
def threaded_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve `handler` from a ThreadingHTTPServer on a free port of 127.0.0.1; yield the port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_media() -> Iterator[MediaServer]:
    """A ThreadingHTTPServer on 127.0.0.1 serving jfk.flac, claims.ogg, fakes, redirects and errors."""
    info = MediaServer(base_url="", port=0)
    with threaded_http(_handler(info)) as port:
        info.port = port
        info.base_url = f"http://127.0.0.1:{port}"
        yield info
