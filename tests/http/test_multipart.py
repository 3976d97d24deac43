"""The multipart reader: the same form whatever the pieces the body came in,
views rather than copies, and a clear refusal for what is broken or too big."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.errors import BadRequest, PayloadTooLarge
from omniroute.http.multipart import (
    FormLimits,
    MultipartError,
    MultipartReader,
    boundary_of,
    read_form,
    write_form,
)

BOUNDARY = "----form-7MA4YWxkTrZu0gW"
CT = f"multipart/form-data; boundary={BOUNDARY}"


def form_body(fields: list[tuple[str, str | None, bytes]], boundary: str = BOUNDARY) -> bytes:
    out = b""
    for name, filename, content in fields:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def parsed(reader: MultipartReader) -> list[tuple[str, str | None, bytes]]:
    return [(p.name, p.filename, b"".join(bytes(x) for x in p.pieces)) for p in reader.parts]


# Content that looks like boundaries, CRLFs and dashes, to catch false matches.
tricky = st.lists(
    st.sampled_from([b"\r", b"\n", b"-", b"--", b"\r\n--", b"----form-7MA4", b"x", b"\x00"]),
    max_size=30,
).map(b"".join)
FIELDS = st.lists(
    st.tuples(
        st.sampled_from(["model", "file", "prompt", "a"]),
        st.one_of(st.none(), st.just("a.wav")),
        tricky,
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(fields=FIELDS, data=st.data())
def test_any_split_gives_the_same_form(
    fields: list[tuple[str, str | None, bytes]], data: st.DataObject
) -> None:
    body = form_body(fields)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=12)))
    reader = MultipartReader(BOUNDARY)
    start = 0
    for cut in [*cuts, len(body)]:
        reader.feed(body[start:cut])
        start = cut
    reader.close()
    assert parsed(reader) == fields


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_a_boundary_split_at_every_position(size: int) -> None:
    fields = [("model", None, b"whisper-1"), ("file", "a.wav", b"RIFF\r\n-\r\n--x")]
    body = form_body(fields)
    for first in range(len(body) + 1):  # one cut at each position, then small pieces
        reader = MultipartReader(BOUNDARY)
        reader.feed(body[:first])
        for at in range(first, len(body), size):
            reader.feed(body[at : at + size])
        reader.close()
        assert parsed(reader) == fields


def test_a_form_in_memory_is_read_as_views_and_written_back_the_same() -> None:
    audio = bytes(range(256)) * 4096  # 1 MiB
    body = form_body([("model", None, b"gw/whisper"), ("file", "a.wav", audio)])
    form = read_form(body, CT)
    part = form.file("file")
    assert part is not None and part.size == len(audio)
    assert any(isinstance(p, memoryview) and p.obj is body for p in part.pieces)
    assert b"".join(bytes(p) for p in write_form(form.parts, form.boundary)) == body
    out = b"".join(bytes(p) for p in form.replaced("model", "whisper-1"))
    assert out == form_body([("model", None, b"whisper-1"), ("file", "a.wav", audio)])
    assert form.field("model") == "gw/whisper"


def test_preamble_and_epilogue_are_ignored() -> None:
    body = b"preamble\r\n" + form_body([("a", None, b"1")]) + b"epilogue"
    assert [p.name for p in read_form(body, CT).parts] == ["a"]


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "multipart/form-data", "multipart/form-data; boundary="],
)
def test_a_content_type_without_a_boundary_is_refused(content_type: str | None) -> None:
    with pytest.raises(MultipartError):
        boundary_of(content_type)


def test_a_quoted_boundary() -> None:
    assert boundary_of('multipart/form-data; charset=utf-8; boundary="a b"') == "a b"


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no boundary at all
        b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data\r\n\r\nx\r\n",  # no name
        b"--" + BOUNDARY.encode() + b"\r\nno colon here\r\n\r\nx\r\n--" + BOUNDARY.encode() + b"--",
        b"--" + BOUNDARY.encode() + b"XX",  # neither CRLF nor -- after it
        form_body([("a", None, b"1")])[:-10],  # cut before the closing boundary
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(MultipartError) as caught:
        read_form(body, CT)
    assert isinstance(caught.value, BadRequest) and caught.value.status == 400


def test_limits() -> None:
    limits = FormLimits(
        max_parts=3, max_head_bytes=200, max_name_chars=10, max_field_bytes=5, max_file_bytes=50
    )
    with pytest.raises(MultipartError, match="more than 3 parts"):
        read_form(form_body([(f"f{i}", None, b"v") for i in range(4)]), CT, limits)
    with pytest.raises(PayloadTooLarge):
        read_form(form_body([("f", None, b"x" * 6)]), CT, limits)
    with pytest.raises(PayloadTooLarge):
        read_form(form_body([("f", "a.wav", b"x" * 51)]), CT, limits)
    read_form(form_body([("f", "a.wav", b"x" * 50)]), CT, limits)  # at the cap: fine
    with pytest.raises(MultipartError, match="name"):
        read_form(form_body([("n" * 11, None, b"v")]), CT, limits)
    long_head = form_body([("f", "a" * 300, b"v")])
    with pytest.raises(MultipartError):
        read_form(long_head, CT, limits)
