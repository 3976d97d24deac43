"""Responses tools beyond plain functions: namespaces, custom (free-form)
tools, Codex's additional_tools input items, and custom tool calls back to
the client in JSON answers and streams (checked with the openai SDK's own
models and event types)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from omniroute.formats import anthropic, ir
from omniroute.formats import openai_chat as chat
from omniroute.formats import openai_responses as orr
from omniroute.formats.common import dump_json
from omniroute.formats.openai_responses_tools import InputStream, custom_input
from omniroute.formats.sse import SSEDecoder
from tests.formats.helpers import encode

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)

GRAMMAR = "start: line+\nline: /[^\\n]*\\n/"
EXEC_SOURCE = 'const r = await tools.shell({cmd: "ls -la \\"src\\""});\ntext(r); // 🚀 done\n'

# What Codex CLI 0.169 sends with a Responses Lite model: no top-level tools,
# the tools in a leading additional_tools item, grouped in namespaces.
CODEX_TOOLS: list[dict[str, Any]] = [
    {
        "type": "namespace",
        "name": "functions",
        "description": "Local tools.",
        "tools": [
            {
                "type": "custom",
                "name": "exec",
                "description": "Run a script in the sandbox.",
                "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR},
            },
            {
                "type": "function",
                "name": "wait",
                "description": "Wait for a running command.",
                "strict": False,
                "parameters": {
                    "type": "object",
                    "properties": {"session_id": {"type": "integer"}},
                    "required": ["session_id"],
                },
            },
            {"type": "custom", "name": "apply_patch", "description": "Edit files."},
        ],
    },
    {
        "type": "namespace",
        "name": "clock",
        "description": "Time.",
        "tools": [{"type": "function", "name": "now", "parameters": {"type": "object"}}],
    },
    {
        "type": "namespace",
        "name": "multi_agent_v1",
        "description": "Agents.",
        "tools": [
            {"type": "function", "name": "wait", "description": "Wait for an agent."},
            {"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}},
        ],
    },
    {"type": "web_search", "external_web_access": False},
]


def codex_body(*history: dict[str, Any], stream: bool = True) -> dict[str, Any]:
    return {
        "model": "gpt-5.5",
        "stream": stream,
        "store": False,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "input": [
            {"type": "additional_tools", "role": "developer", "tools": copy.deepcopy(CODEX_TOOLS)},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "List the files."}],
            },
            *history,
        ],
    }


TURN_2 = (
    {
        "type": "custom_tool_call",
        "id": "ctc_01",
        "status": "completed",
        "call_id": "toolu_01Exec",
        "namespace": "functions",
        "name": "exec",
        "input": EXEC_SOURCE,
    },
    {"type": "custom_tool_call_output", "call_id": "toolu_01Exec", "output": "a.txt\nb.txt"},
)


def tools_by_name(req: ir.Request) -> dict[str, ir.ToolDef]:
    return {t.name: t for t in req.tools}


# --------------------------------------------------------------- requests


def test_additional_tools_item_becomes_flat_tool_defs() -> None:
    req = orr.parse_request(codex_body())
    tools = tools_by_name(req)
    assert list(tools) == [
        "exec",
        "wait",
        "apply_patch",
        "now",
        "multi_agent_v1_wait",
        "spawn_agent",
    ]
    exec_tool = tools["exec"]
    assert exec_tool.description == "Run a script in the sandbox."
    assert exec_tool.parameters["required"] == ["input"]
    prop = exec_tool.parameters["properties"]["input"]
    assert prop["type"] == "string" and GRAMMAR in prop["description"]
    assert "lark" in prop["description"]
    assert tools["apply_patch"].parameters["properties"]["input"]["description"] == (
        "free-form text"
    )
    assert tools["wait"].parameters["required"] == ["session_id"]
    assert tools["wait"].strict is False
    # The second "wait" is another namespace's: it gets a name of its own.
    assert tools["multi_agent_v1_wait"].description == "Wait for an agent."
    assert tools["multi_agent_v1_wait"].parameters == {"type": "object", "properties": {}}
    tool_map = req.vendor["openai-responses"]["tool_map"]
    assert tool_map["exec"] == {"name": "exec", "namespace": "functions", "custom": True}
    assert tool_map["multi_agent_v1_wait"] == {"name": "wait", "namespace": "multi_agent_v1"}
    # The hosted tool has no IR form; the item itself stays for a Responses upstream.
    assert not any("web" in name for name in tools)
    assert [m.role for m in req.messages] == ["user"]


def test_other_formats_get_the_tools() -> None:
    req = orr.parse_request(codex_body())
    body = anthropic.render_request(req)
    names = [t["name"] for t in body["tools"]]
    assert names == ["exec", "wait", "apply_patch", "now", "multi_agent_v1_wait", "spawn_agent"]
    assert body["tools"][0]["input_schema"]["properties"]["input"]["type"] == "string"
    openai_body = chat.render_request(req)
    assert [t["function"]["name"] for t in openai_body["tools"]] == names


def test_top_level_namespace_and_custom_tools_are_flattened() -> None:
    body = {
        "model": "m",
        "input": "hi",
        "tools": [
            {"type": "custom", "name": "apply_patch", "description": "Patch."},
            {
                "type": "function",
                "name": "shell",
                "parameters": {"type": "object"},
                "strict": False,
            },
            {
                "type": "namespace",
                "name": "mcp__git",
                "description": "Git.",
                "tools": [{"type": "function", "name": "shell", "description": "git shell"}],
            },
            {"type": "local_shell"},
        ],
        "tool_choice": {"type": "custom", "name": "apply_patch"},
    }
    req = orr.parse_request(body)
    # The plain top-level function keeps its name; the namespaced one yields.
    assert [t.name for t in req.tools] == ["shell", "apply_patch", "mcp__git_shell"]
    assert req.tool_choice == ir.ToolChoice("tool", "apply_patch")
    out = orr.render_request(req)
    assert sorted(out["tools"], key=json.dumps) == sorted(body["tools"], key=json.dumps)
    assert out["tool_choice"] == body["tool_choice"]
    assert anthropic.render_request(req)["tool_choice"] == {"type": "tool", "name": "apply_patch"}


def test_turn_two_custom_call_and_output_parse_to_ir() -> None:
    req = orr.parse_request(codex_body(*TURN_2))
    assert [m.role for m in req.messages] == ["user", "assistant", "user"]
    (call,) = req.messages[1].parts
    assert call == ir.ToolCallPart("toolu_01Exec", "exec", dump_json({"input": EXEC_SOURCE}))
    (result,) = req.messages[2].parts
    assert isinstance(result, ir.ToolResultPart)
    assert (result.call_id, result.name) == ("toolu_01Exec", "exec")
    assert result.content == [ir.TextPart("a.txt\nb.txt")]
    # An Anthropic upstream gets tool_use + tool_result with the same id.
    messages = anthropic.render_request(req)["messages"]
    (use,) = messages[1]["content"]
    assert use == {
        "type": "tool_use",
        "id": "toolu_01Exec",
        "name": "exec",
        "input": {"input": EXEC_SOURCE},
    }
    (res,) = messages[2]["content"]
    assert res["type"] == "tool_result" and res["tool_use_id"] == "toolu_01Exec"


def test_namespaced_function_call_maps_to_its_tool() -> None:
    item = {
        "type": "function_call",
        "call_id": "c1",
        "namespace": "multi_agent_v1",
        "name": "wait",
        "arguments": "{}",
    }
    output = {"type": "function_call_output", "call_id": "c1", "output": "done"}
    req = orr.parse_request(codex_body(item, output))
    (call,) = req.messages[1].parts
    assert isinstance(call, ir.ToolCallPart) and call.name == "multi_agent_v1_wait"
    back = orr.render_request(req)["input"]
    assert back[2] == item and back[3] == output


def test_responses_upstream_gets_what_the_client_sent() -> None:
    body = codex_body(*TURN_2)
    out = orr.render_request(orr.parse_request(copy.deepcopy(body)))
    assert "tools" not in out  # none at the top level, as sent
    assert out["input"][0] == body["input"][0]  # the additional_tools item, untouched
    assert out["input"][1]["content"] == body["input"][1]["content"]
    sent_call = {k: v for k, v in TURN_2[0].items() if k not in ("id", "status")}
    assert out["input"][2] == sent_call
    assert out["input"][3] == TURN_2[1]
    for key in ("tool_choice", "parallel_tool_calls", "store", "stream"):
        assert out[key] == body[key]


def test_history_with_additional_tools() -> None:
    """previous_response_id: the stored items declared the tools."""
    stored = codex_body(*TURN_2[:1])["input"]
    req = orr.parse_request(
        {
            "model": "gpt-5.5",
            "previous_response_id": "resp_1",
            "input": [TURN_2[1]],
        }
    )
    orr.apply_history(req, stored)
    assert "exec" in tools_by_name(req)
    call = req.messages[1].parts[0]
    assert isinstance(call, ir.ToolCallPart) and call.name == "exec"
    result = req.messages[2].parts[0]
    assert isinstance(result, ir.ToolResultPart) and result.name == "exec"
    assert orr.previous_response_id(req) is None
    items = orr.input_items_from_request(req)
    assert [i["type"] for i in items] == [
        "additional_tools",
        "message",
        "custom_tool_call",
        "custom_tool_call_output",
    ]


# ---------------------------------------------------------------- answers


def _answer(*parts: ir.TextPart | ir.ToolCallPart) -> ir.Response:
    return ir.Response("msg_01", "claude-x", list(parts), "tool_use", usage=ir.Usage(10, 5))


def test_json_answer_shows_custom_tool_call() -> None:
    req = orr.parse_request(codex_body(stream=False))
    resp = _answer(
        ir.TextPart("Listing."),
        ir.ToolCallPart("toolu_01Exec", "exec", json.dumps({"input": EXEC_SOURCE})),
        ir.ToolCallPart("toolu_02Wait", "multi_agent_v1_wait", '{"id":"a1"}'),
        ir.ToolCallPart("toolu_03Now", "now", "{}"),
    )
    resp.vendor["openai-responses"] = {"echo": orr.answer_echo(req, {"previous_response_id": "r"})}
    body = orr.render_response(resp)
    model = Response.model_validate(body)
    assert "omniroute_tools" not in body and body["previous_response_id"] == "r"
    _, custom, wait, now = model.output
    assert custom.type == "custom_tool_call"
    assert (custom.call_id, custom.name, custom.input) == ("toolu_01Exec", "exec", EXEC_SOURCE)
    assert custom.namespace == "functions"
    assert wait.type == "function_call" and (wait.name, wait.namespace) == (
        "wait",
        "multi_agent_v1",
    )
    assert wait.arguments == '{"id":"a1"}'
    assert now.type == "function_call" and (now.name, now.namespace) == ("now", "clock")
    # The client sends these items back next turn: they parse to the same calls.
    again = orr.parse_request(codex_body(*body["output"], stream=False))
    assert again.messages[1].parts[1:] == [
        ir.ToolCallPart("toolu_01Exec", "exec", dump_json({"input": EXEC_SOURCE})),
        ir.ToolCallPart("toolu_02Wait", "multi_agent_v1_wait", '{"id":"a1"}'),
        ir.ToolCallPart("toolu_03Now", "now", "{}"),
    ]


def test_answer_without_tool_map_keeps_function_calls() -> None:
    body = orr.render_response(_answer(ir.ToolCallPart("c", "exec", '{"input":"ls"}')))
    (item,) = Response.model_validate(body).output
    assert item.type == "function_call" and item.arguments == '{"input":"ls"}'
    assert orr.answer_echo(orr.parse_request({"model": "m", "input": "x"})) is None


# ---------------------------------------------------------------- streams


def sdk_events(raw: bytes) -> list[Any]:
    """The encoder's SSE, each event validated by the SDK (named as its type,
    numbered in order), then run through the SDK's stream accumulator."""
    dec = SSEDecoder()
    events = []
    for frame in dec.feed(raw) + dec.close():
        payload = json.loads(frame.data)
        assert frame.event == payload["type"]
        events.append(EVENTS.validate_python(payload))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    state = ResponseStreamState(input_tools=[], text_format=omit)
    for event in events:
        state.handle_event(event)
    return events


def _fragments(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_stream_shows_custom_tool_call(size: int) -> None:
    req = orr.parse_request(codex_body())
    args = json.dumps({"input": EXEC_SOURCE})  # \uXXXX escapes: a surrogate pair
    events: list[ir.Event] = [
        ir.MessageStart("msg_01", "claude-x"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "Listing."),
        ir.BlockStop(0),
        ir.BlockStart(1, "tool_call", id="toolu_01Exec", name="exec"),
        *[ir.ToolArgsDelta(1, piece) for piece in _fragments(args, size)],
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", id="toolu_02Wait", name="multi_agent_v1_wait"),
        ir.ToolArgsDelta(2, '{"id":"a1"}'),
        ir.BlockStop(2),
        ir.MessageDelta("tool_use", usage=ir.Usage(10, 5)),
        ir.MessageStop(),
    ]
    sdk = sdk_events(encode(orr, events, "gpt-5.5", echo=orr.answer_echo(req)))
    custom = [e for e in sdk if getattr(e, "output_index", None) == 1]
    kinds = [e.type for e in custom]
    assert kinds[0] == "response.output_item.added"
    assert set(kinds[1:-2]) == {"response.custom_tool_call_input.delta"}
    assert kinds[-2:] == ["response.custom_tool_call_input.done", "response.output_item.done"]
    added = custom[0].item
    assert (added.type, added.call_id, added.name, added.input) == (
        "custom_tool_call",
        "toolu_01Exec",
        "exec",
        "",
    )
    assert "".join(e.delta for e in custom[1:-2]) == EXEC_SOURCE
    assert custom[-2].input == EXEC_SOURCE
    assert custom[-2].item_id == added.id == custom[-1].item.id
    done = custom[-1].item
    assert (done.type, done.input, done.namespace) == ("custom_tool_call", EXEC_SOURCE, "functions")
    if size == 1:  # the input streams as it comes, not all at the end
        assert len(custom) > 10
    final = sdk[-1]
    assert final.type == "response.completed"
    assert [o.type for o in final.response.output] == [
        "message",
        "custom_tool_call",
        "function_call",
    ]
    wait = final.response.output[2]
    assert (wait.name, wait.namespace, wait.arguments) == ("wait", "multi_agent_v1", '{"id":"a1"}')
    assert "omniroute_tools" not in json.dumps(final.response.model_dump())


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ('{"input": "ls\\n"}', "ls\n"),
        ('{ "input" : "a\\u00e9\\ud83d\\ude80b" }', "aé🚀b"),
        ('{"input":"raw\nnewline"}', "raw\nnewline"),
        ('{"cmd":"x","input":"late key"}', "late key"),
        ('{"command":"only one"}', "only one"),
        ("not json at all", "not json at all"),
        ("", ""),
    ],
)
def test_input_stream_decodes_what_it_can(args: str, text: str) -> None:
    for size in (1, 2, 5, len(args) or 1):
        stream = InputStream()
        pieces = [stream.feed(p) for p in _fragments(args, size)]
        full, rest = stream.finish()
        assert full == text == custom_input(args)
        assert "".join(pieces) + rest == text


def test_decoder_reads_custom_tool_calls_from_a_responses_upstream() -> None:
    item = {
        "id": "ctc_9",
        "type": "custom_tool_call",
        "status": "in_progress",
        "call_id": "call_9",
        "name": "exec",
        "input": "",
    }
    done = {**item, "status": "completed", "input": 'print("hi")\n'}
    frames: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "resp_9", "model": "gpt-5.5"}},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {
            "type": "response.custom_tool_call_input.delta",
            "output_index": 0,
            "item_id": "ctc_9",
            "delta": 'print("h',
        },
        {
            "type": "response.custom_tool_call_input.delta",
            "output_index": 0,
            "item_id": "ctc_9",
            "delta": 'i")\n',
        },
        {
            "type": "response.custom_tool_call_input.done",
            "output_index": 0,
            "item_id": "ctc_9",
            "input": done["input"],
        },
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {
            "type": "response.completed",
            "response": {"id": "resp_9", "status": "completed", "output": [done]},
        },
    ]
    dec = orr.StreamDecoder()
    events = [ev for f in frames for ev in dec.feed(f["type"], json.dumps(f))] + dec.close()
    args = "".join(e.partial_json for e in events if isinstance(e, ir.ToolArgsDelta))
    assert json.loads(args) == {"input": 'print("hi")\n'}
    (start,) = [e for e in events if isinstance(e, ir.BlockStart)]
    assert (start.kind, start.id, start.name) == ("tool_call", "call_9", "exec")
    assert [e.stop_reason for e in events if isinstance(e, ir.MessageDelta)] == ["tool_use"]
    # A whole item with no deltas reads the same.
    dec = orr.StreamDecoder()
    only_done = [
        frames[0],
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        frames[-1],
    ]
    events = [ev for f in only_done for ev in dec.feed(f["type"], json.dumps(f))]
    args = "".join(e.partial_json for e in events if isinstance(e, ir.ToolArgsDelta))
    assert json.loads(args) == {"input": 'print("hi")\n'}


# ------------------------------------------------------------- user field


LONG_USER = json.dumps({"device_id": "d" * 64, "account_uuid": "a" * 36, "session_id": "s" * 36})


def test_long_user_is_replaced_by_a_stable_short_id() -> None:
    req = ir.Request("m", [ir.Message("user", [ir.TextPart("hi")])], user=LONG_USER)
    assert len(LONG_USER) > 64
    chat_user = chat.render_request(req)["user"]
    assert len(chat_user) <= 64 and chat_user == chat.render_request(req)["user"]
    assert LONG_USER not in json.dumps(chat.render_request(req))
    assert orr.render_request(req)["user"] == chat_user
    other = ir.Request("m", req.messages, user=LONG_USER + "x")
    assert chat.render_request(other)["user"] != chat_user
    short = ir.Request("m", req.messages, user="u" * 64)
    assert chat.render_request(short)["user"] == "u" * 64
    assert "user" not in chat.render_request(ir.Request("m", req.messages))
