"""The dashboard's files: small, no inline script or style, served gzipped."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.browser.harness import Served

WEB = Path(__file__).resolve().parents[2] / "web"


def test_the_whole_app_stays_within_its_size_budget() -> None:
    files = [p for p in WEB.rglob("*") if p.is_file() and "locales" not in p.parts]
    total = sum(p.stat().st_size for p in files)
    assert len(files) >= 10
    assert total <= 400 * 1024, total


def test_no_inline_script_style_or_handlers_in_html() -> None:
    for page in WEB.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page
        assert "<style" not in text and " style=" not in text, page
        assert not re.search(r"\son\w+=", text), page


def test_nothing_is_fetched_from_another_origin() -> None:
    for path in WEB.rglob("*"):
        if path.suffix in (".html", ".js", ".css"):
            text = path.read_text(encoding="utf-8")
            for url in re.findall(r"""(?:src|href)=["'](https?:)?//[^"']+""", text):
                raise AssertionError(f"{path} loads {url}")
            assert "@import url(http" not in text, path


def test_text_files_are_served_gzipped_with_security_headers(served: Served) -> None:
    plain = (WEB / "js" / "app.js").read_bytes()
    response = httpx.get(served.url + "/js/app.js", headers={"accept-encoding": "gzip"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == plain  # httpx undoes the gzip
    assert int(response.headers["content-length"]) < len(plain) // 2
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    raw = httpx.get(served.url + "/js/app.js", headers={"accept-encoding": "gzip"}, timeout=10)
    etag = raw.headers["etag"]
    again = httpx.get(
        served.url + "/js/app.js",
        headers={"accept-encoding": "gzip", "if-none-match": etag},
        timeout=10,
    )
    assert again.status_code == 304
