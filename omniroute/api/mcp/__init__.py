"""The MCP server: the gateway's management as tools for MCP clients
(Claude Desktop, Claude Code, IDE agents), over stdio (``omniroute mcp``) and
over streamable HTTP (``/mcp``). Our own small JSON-RPC 2.0 implementation of
the protocol, so no dependency comes with it.

    schema    the JSON Schema subset the tools' arguments are checked against
    context   what a tool works on: the live gateway, or the store from a shell
    tools     the tools, each calling the code the management API calls
    protocol  JSON-RPC 2.0 and the MCP methods: initialize, ping, tools/*
    keys      the dedicated admin key an MCP client may present over HTTP
    http      POST/GET/DELETE /mcp: sessions, the Accept rules, JSON or SSE
    stdio     newline-delimited JSON on standard input and output
"""
