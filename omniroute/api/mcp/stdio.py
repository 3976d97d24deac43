"""MCP over stdio: one JSON-RPC message (or batch) per line on standard
input, each answer one line on standard output, nothing else ever written
there (logs go to stderr). Requests are answered as they finish, at most
``MAX_AT_ONCE`` at a time, so a slow model test does not hold up a ping.
The server ends when its input does (the client closed it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from omniroute.api.mcp.context import Context
from omniroute.api.mcp.protocol import (
    PARSE_ERROR,
    Conversation,
    RpcError,
    answer_any,
    dump,
    error,
    parse,
)

log = logging.getLogger("omniroute.mcp")

MAX_LINE = 10 * 1024 * 1024
MAX_AT_ONCE = 8


async def serve_stdio(
    context: Context, reader: asyncio.StreamReader, write: Callable[[bytes], None]
) -> None:
    conversation = Conversation()
    slots = asyncio.Semaphore(MAX_AT_ONCE)
    running: set[asyncio.Task[None]] = set()

    def send(message: Any) -> None:
        write(dump(message) + b"\n")

    async def handle(message: Any) -> None:
        try:
            reply = await answer_any(message, conversation, context)
            if reply is not None:
                send(reply)
        finally:
            slots.release()

    while True:
        try:
            line = await reader.readline()
        except ValueError:  # a line longer than MAX_LINE: the stream cannot be trusted after it
            send(error(None, PARSE_ERROR, f"Parse error: a message over {MAX_LINE} bytes"))
            break
        if not line:
            break
        if not line.strip():
            continue
        try:
            message = parse(line)
        except RpcError as exc:
            send(error(None, exc.code, exc.message))
            continue
        if isinstance(message, dict) and message.get("method") == "initialize":
            # The handshake comes first and alone: answer it before reading on.
            await slots.acquire()
            await handle(message)
            continue
        await slots.acquire()
        task = asyncio.create_task(handle(message))
        running.add(task)
        task.add_done_callback(running.discard)
    if running:
        await asyncio.gather(*running, return_exceptions=True)


async def stdin_reader() -> asyncio.StreamReader:
    import sys

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def stdout_writer() -> Callable[[bytes], None]:
    import sys

    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    return write
