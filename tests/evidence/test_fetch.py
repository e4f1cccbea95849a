"""The page fetcher against a real web server on 127.0.0.1: text, SSRF guard, robots, limits, cache."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from evidence.cache import EvidenceCache
from evidence.fetch import Fetcher, FetchError, ipv4_literal
from fakes.web_pages import BOILERPLATE_WORDS, WebPages
from settings import Settings

TOWER = [
    "The Eiffel Tower was completed in 1889 as the entrance arch to the World's Fair in Paris.",
    "At 330 metres it was the tallest man-made structure in the world for 41 years, until the "
    "Chrysler Building in New York was finished in 1930.",
    "The tower is repainted roughly every seven years, which takes about sixty tonnes of paint.",
]


@pytest.fixture
async def site() -> AsyncIterator[WebPages]:
    """The local web server."""
    pages = WebPages()
    await pages.start()
    yield pages
    await pages.stop()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Settings with a short timeout."""
    return make_settings(evidence={"fetch_timeout_seconds": 5})


@pytest.fixture
async def fetcher(settings: Settings) -> AsyncIterator[Fetcher]:
    """A fetcher allowed to reach 127.0.0.1 (like ALLOW_PRIVATE_URLS=true)."""
    async with Fetcher(settings.evidence, allow_private=True) as opened:
        yield opened


async def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    """The FetchError `fetcher.page(url)` raises."""
    with pytest.raises(FetchError) as caught:
        await fetcher.page(url)
    return caught.value


async def test_article_keeps_main_text_and_drops_boilerplate(
    site: WebPages, fetcher: Fetcher, settings: Settings
) -> None:
    url = site.article("/news/tower", "Tower facts", TOWER, published="2023-05-04")
    page = await fetcher.page(url)
    for paragraph in TOWER:
        assert paragraph in page.text
    for word in (*BOILERPLATE_WORDS, "celebrity recipes", "analyticsQueue"):
        assert word not in page.text
    assert page.title is not None and page.title.startswith("Tower facts")
    assert page.published == "2023-05-04"
    assert (page.requested, page.url, page.status, page.site) == (url, url, 200, "127.0.0.1")
    assert page.content_type.startswith("text/html")
    assert set(site.user_agents) == {settings.evidence.user_agent}  # robots.txt and the page


async def test_plain_text_is_used_as_is(site: WebPages, fetcher: Fetcher) -> None:
    url = site.add("/notes.txt", b"Line one of the notes.\r\nLine two.\r\n", content_type="text/plain")
    page = await fetcher.page(url)
    assert (page.text, page.title, page.published) == ("Line one of the notes.\nLine two.", None, None)


async def test_redirects_are_followed_to_the_final_url(site: WebPages, fetcher: Fetcher) -> None:
    final = site.article("/new/tower", "Tower facts", TOWER)
    site.redirect("/moved", "/new/tower", status=301)
    start = site.redirect("/old", site.url("/moved"))
    page = await fetcher.page(start)
    assert (page.requested, page.url) == (start, final)
    assert site.requests == ["/robots.txt", "/old", "/moved", "/new/tower"]
    assert fetcher.stats["redirects"] == 2


async def test_endless_redirects_stop(site: WebPages, fetcher: Fetcher) -> None:
    for hop in range(10):
        site.redirect(f"/loop{hop}", f"/loop{hop + 1}")
    error = await fetch_error(fetcher, site.url("/loop0"))
    assert error.kind == "http"
    assert site.hits("/loop6") == 0


async def test_redirect_to_the_metadata_service_is_refused_without_connecting(
    site: WebPages, fetcher: Fetcher
) -> None:
    url = site.redirect("/innocent", "http://169.254.169.254/latest/meta-data/")
    error = await fetch_error(fetcher, url)
    assert error.kind == "blocked"
    assert error.message == "refused: 169.254.169.254 is not a public address"
    assert site.requests == ["/robots.txt", "/innocent"]
    assert fetcher.stats["requests"] == 2  # nothing was sent to 169.254.169.254


async def test_redirect_to_another_scheme_is_refused(site: WebPages, fetcher: Fetcher) -> None:
    error = await fetch_error(fetcher, site.redirect("/file", "file:///etc/passwd"))
    assert error.kind == "unsupported"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "2130706433", "0x7f000001", "0x7f.1", "127.1", "[::ffff:127.0.0.1]", "localhost"],
)
async def test_loopback_in_any_notation_is_refused_without_a_request(
    site: WebPages, settings: Settings, host: str
) -> None:
    site.article("/page", "Tower facts", TOWER)
    port = site.base_url.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/page"
    async with Fetcher(settings.evidence, allow_private=False) as strict:
        error = await fetch_error(strict, url)
        assert error.kind == "blocked"
        assert error.message.startswith("refused: ") and error.message.endswith("is not a public address")
        with pytest.raises(FetchError) as caught:
            await strict.get_json(url, {"q": "x"})
        assert caught.value.kind == "blocked"
        assert strict.stats["blocked"] == 2 and strict.stats["requests"] == 0
    assert site.requests == []


async def test_numeric_hosts_reach_the_address_they_mean(site: WebPages, fetcher: Fetcher) -> None:
    site.article("/page", "Tower facts", TOWER)
    port = site.base_url.rsplit(":", 1)[1]
    page = await fetcher.page(f"http://2130706433:{port}/page")
    assert page.url == f"http://127.0.0.1:{port}/page"
    assert site.requests == ["/robots.txt", "/page"]


LITERALS = [
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
]
OTHER_HOSTS = [
    ("0300.0250.0.1", "192.168.0.1"),
    ("10.0x10.1", "10.16.0.1"),
    ("example.com", None),
    ("a1.b2", None),
]


@pytest.mark.parametrize(("host", "address"), [*LITERALS, *OTHER_HOSTS])
def test_ipv4_literal_notations(host: str, address: str | None) -> None:
    assert ipv4_literal(host) == address


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1", "08.1", "foo.0x10", "4294967296"])
def test_invalid_numeric_hosts_are_malformed(host: str) -> None:
    with pytest.raises(ValueError):
        ipv4_literal(host)


async def test_connect_time_guard_blocks_what_the_precheck_cannot_see(
    site: WebPages, settings: Settings
) -> None:
    # The URL names a public address, but the connection goes to 127.0.0.1 (an HTTP proxy, as a
    # changed DNS answer would): only the connect-time guard can refuse it.
    site.article("/article", "Tower facts", TOWER)
    strict_transport = httpx.AsyncHTTPTransport(proxy=site.base_url)
    async with Fetcher(settings.evidence, allow_private=False, transport=strict_transport) as strict:
        error = await fetch_error(strict, "http://93.184.216.34/article")
    assert (error.kind, error.message) == ("blocked", "refused: 127.0.0.1 is not a public address")
    assert site.requests == []
    lenient_transport = httpx.AsyncHTTPTransport(proxy=site.base_url)
    async with Fetcher(settings.evidence, allow_private=True, transport=lenient_transport) as lenient:
        page = await lenient.page("http://93.184.216.34/article")
    assert TOWER[0] in page.text  # the same route works when private addresses are allowed


async def test_credentials_and_other_schemes_are_refused(site: WebPages, fetcher: Fetcher) -> None:
    port = site.base_url.rsplit(":", 1)[1]
    assert (await fetch_error(fetcher, f"http://user:secret@127.0.0.1:{port}/")).kind == "blocked"
    assert (await fetch_error(fetcher, "ftp://127.0.0.1/file")).kind == "unsupported"
    assert (await fetch_error(fetcher, "not a url")).kind == "unsupported"
    assert site.requests == []


async def test_robots_disallow_is_honoured_and_fetched_once_per_host(
    site: WebPages, fetcher: Fetcher
) -> None:
    site.robots("User-agent: *\nDisallow: /private/\n")
    site.article("/private/memo", "Memo", TOWER)
    for index in range(3):
        site.article(f"/public/{index}", "Tower facts", TOWER)
    pages = await asyncio.gather(*(fetcher.page(site.url(f"/public/{i}")) for i in range(3)))
    assert all(TOWER[0] in page.text for page in pages)
    error = await fetch_error(fetcher, site.url("/private/memo"))
    assert error.kind == "robots"
    assert site.hits("/robots.txt") == 1 and site.hits("/private/memo") == 0
    assert fetcher.stats["robots_fetched"] == 1


async def test_robots_rules_for_our_user_agent(site: WebPages, fetcher: Fetcher) -> None:
    site.robots("User-agent: AutoIntel\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    url = site.article("/page", "Tower facts", TOWER)
    assert (await fetch_error(fetcher, url)).kind == "robots"
    site.add("/api", b'{"results": []}', content_type="application/json")
    assert await fetcher.get_json(site.url("/api"), {}) == {"results": []}  # APIs skip robots.txt


async def test_missing_robots_allows_everything(site: WebPages, fetcher: Fetcher) -> None:
    page = await fetcher.page(site.article("/page", "Tower facts", TOWER))
    assert TOWER[0] in page.text
    assert site.requests == ["/robots.txt", "/page"]


async def test_rate_limit_carries_retry_after(site: WebPages, fetcher: Fetcher) -> None:
    url = site.add("/busy", b"slow down", status=429, headers={"Retry-After": "30"})
    error = await fetch_error(fetcher, url)
    assert (error.kind, error.status, error.retry_after) == ("http", 429, 30.0)
    assert error.message == f"{url} answered HTTP 429 (retry after 30 s)"
    with pytest.raises(FetchError) as caught:
        await fetcher.get_json(url, {"q": "tower"})
    assert (caught.value.kind, caught.value.status, caught.value.retry_after) == ("http", 429, 30.0)


async def test_retry_after_as_http_date(site: WebPages, fetcher: Fetcher) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    url = site.add("/unavailable", b"", status=503, headers={"Retry-After": when})
    error = await fetch_error(fetcher, url)
    assert error.status == 503 and error.retry_after is not None and 60 < error.retry_after <= 120


async def test_not_found_is_an_http_error(site: WebPages, fetcher: Fetcher) -> None:
    error = await fetch_error(fetcher, site.url("/missing"))
    assert (error.kind, error.status, error.retry_after) == ("http", 404, None)


async def test_slow_page_times_out(site: WebPages, make_settings: Callable[..., Settings]) -> None:
    url = site.slow("/slow", seconds=30)
    settings = make_settings(evidence={"fetch_timeout_seconds": 0.5})
    async with Fetcher(settings.evidence, allow_private=True) as impatient:
        error = await fetch_error(impatient, url)
    assert error.kind == "timeout"
    assert error.message == f"{url} did not answer within 0.5 s"


async def test_huge_streamed_page_is_cut_off(site: WebPages, make_settings: Callable[..., Settings]) -> None:
    size = 50 * 1024 * 1024
    url = site.huge("/huge", size)
    settings = make_settings(evidence={"max_page_bytes": 256 * 1024})
    async with Fetcher(settings.evidence, allow_private=True) as capped:
        error = await fetch_error(capped, url)
        assert error.kind == "too_large"
        assert capped.stats["bytes"] < 256 * 1024 + 128 * 1024  # stopped after one chunk past the cap
    await asyncio.sleep(0.1)  # let the server notice the closed connection
    assert site.bytes_sent["/huge"] < size / 2


async def test_declared_huge_page_is_refused_before_reading(
    site: WebPages, make_settings: Callable[..., Settings]
) -> None:
    url = site.huge("/huge", declare_length=True)
    settings = make_settings(evidence={"max_page_bytes": 256 * 1024})
    async with Fetcher(settings.evidence, allow_private=True) as capped:
        assert (await fetch_error(capped, url)).kind == "too_large"
        assert capped.stats["bytes"] == 0


@pytest.mark.parametrize(
    "content_type", ["image/png", "application/octet-stream", "application/pdf", "text/html", None]
)
async def test_binary_content_is_unsupported(
    site: WebPages, fetcher: Fetcher, content_type: str | None
) -> None:
    error = await fetch_error(fetcher, site.binary("/file", content_type))
    assert error.kind == "unsupported"
    if content_type is not None and content_type != "text/html":
        assert content_type in error.message  # refused from the header, before reading the body


@pytest.mark.parametrize("header_charset", ["ISO-8859-1", None])
async def test_windows_1252_page_is_decoded(
    site: WebPages, fetcher: Fetcher, header_charset: str | None
) -> None:
    page = await fetcher.page(site.windows_1252("/cafe", header_charset=header_charset))
    assert "The café on the corner" in page.text
    assert "“house blend”" in page.text and "Zoë Müller" in page.text and "grandmother’s" in page.text
    assert page.title is not None and page.title.startswith("A café with history")


async def test_undeclared_charset_defaults_to_utf8(site: WebPages, fetcher: Fetcher) -> None:
    url = site.add("/plain", "Crème brûlée costs 5 € in Zürich.".encode(), content_type="text/plain")
    assert (await fetcher.page(url)).text == "Crème brûlée costs 5 € in Zürich."


async def test_cache_hit_makes_no_request(site: WebPages, settings: Settings, tmp_path: Path) -> None:
    url = site.article("/page", "Tower facts", TOWER, published="2023-05-04")
    cache = EvidenceCache(ttl=3600, directory=tmp_path / "cache")
    async with Fetcher(settings.evidence, allow_private=True, cache=cache) as first:
        fresh = await first.page(url)
        again = await first.page(url)
        assert first.stats["cache_hits"] == 1
    assert again == fresh
    assert site.requests == ["/robots.txt", "/page"]
    async with Fetcher(settings.evidence, allow_private=True, cache=cache) as second:
        assert await second.page(url) == fresh
        site.article("/other", "Tower facts", TOWER)
        await second.page(site.url("/other"))  # robots.txt comes from the cache too
    assert site.requests == ["/robots.txt", "/page", "/other"]
    await cache.close()


async def test_per_host_concurrency_is_bounded(
    site: WebPages, make_settings: Callable[..., Settings]
) -> None:
    for index in range(6):
        site.slow(f"/slow/{index}", seconds=0.2)
    settings = make_settings(evidence={"per_host_concurrency": 2})
    async with Fetcher(settings.evidence, allow_private=True) as polite:
        await asyncio.gather(*(polite.page(site.url(f"/slow/{i}")) for i in range(6)))
    assert site.max_in_flight == 2


async def test_get_json_sends_params_and_parses(site: WebPages, fetcher: Fetcher, settings: Settings) -> None:
    site.add("/search", b'{"results": [{"url": "https://example.org/"}]}', content_type="application/json")
    found = await fetcher.get_json(site.url("/search"), {"q": "eiffel tower", "format": "json"})
    assert found == {"results": [{"url": "https://example.org/"}]}
    assert site.requests == ["/search?q=eiffel+tower&format=json"]
    assert site.user_agents == [settings.evidence.user_agent]


async def test_get_json_refuses_invalid_json(site: WebPages, fetcher: Fetcher) -> None:
    site.add("/search", b"<html>not json</html>")
    with pytest.raises(FetchError) as caught:
        await fetcher.get_json(site.url("/search"), {})
    assert caught.value.kind == "unsupported"
    assert fetcher.stats["unsupported"] == 1


async def test_closed_port_is_unreachable(fetcher: Fetcher) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await fetch_error(fetcher, f"http://127.0.0.1:{port}/page")
    assert error.kind == "unreachable" and error.message.startswith("could not reach 127.0.0.1")


async def test_the_configured_search_api_may_be_private_but_its_pages_may_not(
    site: WebPages, make_settings: Callable[..., Settings]
) -> None:
    """The compose stack's SearxNG lives on the internal network: its JSON API is trusted, nothing else."""
    site.add("/search", body=b'{"results": []}', content_type="application/json")
    page = site.article("/page", "A page", ["A paragraph on the same host that must stay unreachable."])
    strict = make_settings(evidence={"searxng_url": site.url("")})
    async with Fetcher(strict.evidence, allow_private=False) as fetcher:
        assert await fetcher.get_json(site.url("/search"), {"q": "x", "format": "json"}) == {"results": []}
        refused = await fetch_error(fetcher, page)
    assert refused.kind == "blocked" and site.hits("/page") == 0
