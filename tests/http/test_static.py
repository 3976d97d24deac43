from __future__ import annotations

import os
from pathlib import Path

import pytest

from omniroute import errors
from omniroute.http import Request, Router, StaticFiles
from tests.http.wire import Wire, get, serving

pytestmark = pytest.mark.anyio


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "assets" / "app.js").write_text("console.log(1)")
    (root / "assets" / "logo.png").write_bytes(b"\x89PNG fake")
    (root / "assets" / "data.bin").write_bytes(b"\x00\x01")
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_text("docs")
    (root / "empty").mkdir()
    (tmp_path / "secret.txt").write_text("top secret")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (root / "inside.txt").symlink_to(root / "assets" / "app.js")
    return root


def call(files: StaticFiles, path: str, **headers: str) -> Request:
    request = Request("GET", "/ui/" + path, list(headers.items()))
    request.path_params = {"path": request.path.removeprefix("/ui/")}
    return request


async def test_content_types(site: Path) -> None:
    files = StaticFiles(site)
    cases = {
        "assets/app.js": "text/javascript; charset=utf-8",
        "assets/logo.png": "image/png",
        "index.html": "text/html; charset=utf-8",
        "assets/data.bin": "application/octet-stream",
    }
    for path, expected in cases.items():
        response = await files(call(files, path))
        assert response.status == 200
        assert dict(response.headers)["content-type"] == expected
        assert dict(response.headers)["cache-control"] == "no-cache"
    assert (await files(call(files, "assets/app.js"))).body == b"console.log(1)"


async def test_directory_and_empty_path_serve_the_index(site: Path) -> None:
    files = StaticFiles(site)
    assert (await files(call(files, ""))).body == b"<h1>home</h1>"
    assert (await files(call(files, "docs"))).body == b"docs"
    assert (await files(call(files, "docs/"))).body == b"docs"
    with pytest.raises(errors.NotFound):
        await files(call(files, "empty"))


async def test_etag_and_if_none_match(site: Path) -> None:
    files = StaticFiles(site)
    first = await files(call(files, "assets/app.js"))
    etag = dict(first.headers)["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await files(call(files, "assets/app.js", **{"if-none-match": header}))
        assert again.status == 304
        assert again.body == b""
        assert dict(again.headers)["etag"] == etag
    stale = await files(call(files, "assets/app.js", **{"if-none-match": '"nope"'}))
    assert stale.status == 200


async def test_changed_file_gets_a_new_etag_and_content(site: Path) -> None:
    files = StaticFiles(site)
    target = site / "assets" / "app.js"
    first = await files(call(files, "assets/app.js"))
    target.write_text("console.log(2) // longer")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    second = await files(call(files, "assets/app.js"))
    assert second.body == b"console.log(2) // longer"
    assert dict(second.headers)["etag"] != dict(first.headers)["etag"]


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "assets/../../secret.txt",
        "..",
        "./index.html",
        "..\\secret.txt",
        "assets\\app.js",
        "index.html\0",
        "/etc/passwd",
        "//etc/passwd",
        "escape.txt",  # a symlink pointing outside the root
        "missing.html",
        "C:/windows",
    ],
)
async def test_traversal_and_missing_files_are_not_found(site: Path, path: str) -> None:
    files = StaticFiles(site)
    request = Request("GET", "/ui/x")
    request.path_params = {"path": path}
    with pytest.raises(errors.NotFound):
        await files(request)


async def test_symlink_inside_root_is_served(site: Path) -> None:
    files = StaticFiles(site)
    assert (await files(call(files, "inside.txt"))).body == b"console.log(1)"


async def test_over_the_wire_including_encoded_traversal(site: Path) -> None:
    router = Router()
    router.add("GET", "/ui/{path:path}", StaticFiles(site))
    async with serving(router) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/ui/assets/app.js"))
        ok = await wire.response()
        assert ok.status == 200 and ok.body == b"console.log(1)"
        etag = ok.header("etag")
        assert etag is not None
        await wire.send(get("/ui/assets/app.js", f"If-None-Match: {etag}"))
        not_modified = await wire.response()
        assert not_modified.status == 304 and not_modified.body == b""
        await wire.send(b"HEAD /ui/index.html HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await wire.response(method="HEAD")
        assert head.header("content-length") == str(len("<h1>home</h1>"))
        for attack in (
            "/ui/../secret.txt",
            "/ui/%2e%2e/secret.txt",
            "/ui/%2E%2E%2Fsecret.txt",
            "/ui/assets/%2e%2e/%2e%2e/secret.txt",
            "/ui/..%5csecret.txt",
            "/ui/index.html%00",
            "/ui/%2fetc%2fpasswd",
            "/ui/escape.txt",
        ):
            await wire.send(get(attack))
            response = await wire.response()
            assert response.status == 404, attack
            assert b"secret" not in response.body
        await wire.close()


async def test_large_file_is_served_whole(tmp_path: Path) -> None:
    blob = os.urandom(600 * 1024)
    (tmp_path / "big.bin").write_bytes(blob)
    files = StaticFiles(tmp_path)
    response = await files(call(files, "big.bin"))
    assert response.body == blob


async def test_text_goes_out_gzipped_when_the_client_accepts_it(site: Path) -> None:
    import gzip

    script = "const answer = 42;\n" * 200
    (site / "assets" / "big.js").write_text(script)
    files = StaticFiles(site)
    plain = await files(call(files, "assets/big.js"))
    assert plain.body == script.encode()
    assert "content-encoding" not in dict(plain.headers)
    assert dict(plain.headers)["vary"] == "accept-encoding"
    zipped = await files(call(files, "assets/big.js", **{"accept-encoding": "br, gzip"}))
    headers = dict(zipped.headers)
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == script.encode()
    assert len(zipped.body) < len(script) // 10
    # Each encoding has its own tag, and a 304 answers the matching one.
    assert headers["etag"] != dict(plain.headers)["etag"]
    again = await files(
        call(
            files, "assets/big.js", **{"accept-encoding": "gzip", "if-none-match": headers["etag"]}
        )
    )
    assert again.status == 304
    for refused in ("gzip;q=0", "identity", "*;q=0", "br, gzip;q=0, *"):
        response = await files(call(files, "assets/big.js", **{"accept-encoding": refused}))
        assert "content-encoding" not in dict(response.headers), refused
    # Small files and images are never compressed.
    tiny = await files(call(files, "assets/app.js", **{"accept-encoding": "gzip"}))
    assert tiny.body == b"console.log(1)"
    (site / "assets" / "big.png").write_bytes(b"\x00" * 4096)
    image = await files(call(files, "assets/big.png", **{"accept-encoding": "gzip"}))
    assert "content-encoding" not in dict(image.headers)


async def test_configured_headers_go_on_every_answer(site: Path) -> None:
    files = StaticFiles(site, headers=(("x-frame-options", "DENY"),))
    ok = await files(call(files, "index.html"))
    assert dict(ok.headers)["x-frame-options"] == "DENY"
    etag = dict(ok.headers)["etag"]
    cached = await files(call(files, "index.html", **{"if-none-match": etag}))
    assert cached.status == 304 and dict(cached.headers)["x-frame-options"] == "DENY"
