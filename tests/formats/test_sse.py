from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.formats.sse import SSEDecoder, SSEEvent, encode_sse


def decode(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(eol: bytes) -> None:
    stream = eol.join([b"event: add", b"data: 1", b"", b"data: 2", b"", b""])
    assert decode(stream) == [SSEEvent("1", "add"), SSEEvent("2")]


def test_mixed_line_endings_in_one_stream() -> None:
    assert decode(b"data: a\r\ndata: b\rdata: c\n\r\n") == [SSEEvent("a\nb\nc")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    stream = b": keep-alive\n\n:another\nfoo: bar\ndata: x\n: inside\n\n"
    assert decode(stream) == [SSEEvent("x")]


def test_multi_line_data_is_joined_with_lf() -> None:
    assert decode(b"data: line one\ndata: line two\ndata:\n\n") == [
        SSEEvent("line one\nline two\n")
    ]


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert decode(b"data:no-space\n\ndata:  two\n\n") == [SSEEvent("no-space"), SSEEvent(" two")]


def test_field_without_colon_has_empty_value() -> None:
    assert decode(b"data\n\ndata\ndata\n\n") == [SSEEvent(""), SSEEvent("\n")]


def test_event_type_resets_but_id_persists() -> None:
    stream = b"id: 7\nevent: ping\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"
    assert decode(stream) == [
        SSEEvent("a", "ping", "7"),
        SSEEvent("b", None, "7"),
        SSEEvent("c", None, None),
    ]


def test_id_with_nul_is_ignored() -> None:
    assert decode(b"id: 1\n\nid: 2\x003\ndata: x\n\n") == [SSEEvent("x", None, "1")]


def test_block_without_data_dispatches_nothing() -> None:
    assert decode(b"event: lonely\n\ndata: after\n\n") == [SSEEvent("after")]


def test_retry_is_recorded_when_numeric() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 1500\n\nretry: soon\n\n")
    assert decoder.retry == 1500


def test_leading_bom_is_dropped_once() -> None:
    assert decode(b"\xef\xbb\xbfdata: a\n\n") == [SSEEvent("a")]
    assert decode(b"\xef\xbb", b"\xbfdata: a\n\n") == [SSEEvent("a")]
    # A second BOM is part of the field name, so the line is an unknown field.
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n") == []


def test_invalid_utf8_is_replaced() -> None:
    assert decode(b"data: \xff\xfe ok\n\n") == [SSEEvent("\ufffd\ufffd ok")]


def test_close_dispatches_an_unterminated_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a": 1}') == []
    assert decoder.close() == [SSEEvent('{"a": 1}')]


def test_cr_at_chunk_end_then_lf_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == [SSEEvent("a")]
    assert decoder.feed(b"\ndata: b\r\n\r\n") == [SSEEvent("b")]


def test_openai_style_stream() -> None:
    stream = (
        b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"\xe2\x9c\x93"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    events = decode(*(stream[i : i + 7] for i in range(0, len(stream), 7)))
    assert [e.data for e in events] == [
        '{"choices":[{"delta":{"content":"Hi"}}]}',
        '{"choices":[{"delta":{"content":"\u2713"}}]}',
        "[DONE]",
    ]


def test_encode_sse() -> None:
    assert encode_sse("hello") == b"data: hello\n\n"
    assert encode_sse("a\nb\r\nc", event="delta") == b"event: delta\ndata: a\ndata: b\ndata: c\n\n"
    assert encode_sse("") == b"data: \n\n"
    with pytest.raises(ValueError):
        encode_sse("x", event="bad\nname")


def test_encode_then_decode_round_trips() -> None:
    payloads = [("x", None), ("multi\nline\n", "ev"), ("", None), (" lead", "t")]
    stream = b"".join(encode_sse(data, event) for data, event in payloads)
    assert decode(stream) == [SSEEvent(data, event) for data, event in payloads]


# -- property: the split points never change the events --------------------------------

texts = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    max_size=12,
)
fields = st.one_of(
    st.builds(lambda v: f"data: {v}", texts),
    st.builds(lambda v: f"data:{v}", texts),
    st.builds(lambda v: f"event: {v}", texts),
    st.builds(lambda v: f"id: {v}", texts),
    st.builds(lambda v: f": {v}", texts),
    st.just("data"),
    st.just(""),
)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(fields, max_size=15))
    eols = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(lines) + 2))
    text = "".join(line + eol for line, eol in zip(lines, eols, strict=False))
    text += eols[-1] + eols[-2]
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text.encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(stream=streams(), data=st.data())
def test_any_split_gives_the_same_events(stream: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert b"".join(pieces) == stream
    assert decode(*pieces) == decode(stream)


@settings(max_examples=200, deadline=None)
@given(stream=streams())
def test_byte_by_byte_equals_whole(stream: bytes) -> None:
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == decode(stream)


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(
        st.tuples(
            st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r"), max_size=20),
            st.one_of(
                st.none(),
                st.text(
                    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n:"),
                    min_size=1,
                    max_size=8,
                ),
            ),
        ),
        max_size=6,
    ),
    data=st.data(),
)
def test_encoded_events_survive_any_split(
    payloads: list[tuple[str, str | None]], data: st.DataObject
) -> None:
    stream = b"".join(encode_sse(text, event) for text, event in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=10)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    expected = [SSEEvent(text, event) for text, event in payloads]
    assert decode(*pieces) == expected
