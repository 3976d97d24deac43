"""Settings files as users have them before the setup: other settings,
comments, their own providers. Each test writes one of these into a
temporary home and checks that the setup keeps everything in it."""

from __future__ import annotations

import json

CLAUDE = json.dumps(
    {
        "$schema": "https://json.schemastore.org/claude-code-settings.json",
        "permissions": {"allow": ["Bash(npm run lint)", "Read(~/.zshrc)"], "deny": []},
        "env": {"DISABLE_TELEMETRY": "1", "ANTHROPIC_API_KEY": "sk-ant-old-key-0123456789"},
        "model": "opus",
        "hooks": {"PostToolUse": [{"matcher": "Edit", "hooks": []}]},
        "statusLine": {"type": "command", "command": "~/.claude/statusline.sh"},
    },
    indent=4,
)

CODEX = """\
# Codex settings
model = "gpt-5-codex"   # the default model
approval_policy = "on-request"
sandbox_mode = "workspace-write"

[features]
web_search_request = true

[mcp_servers.context7]
command = "npx"
args = ["-y", "@upstash/context7-mcp"]

[model_providers.azure]
name = "Azure"
base_url = "https://example.openai.azure.com/openai"
env_key = "AZURE_OPENAI_API_KEY"
wire_api = "responses"

[profiles.fast]
model = "gpt-5-mini"
"""

GEMINI_SETTINGS = json.dumps(
    {
        "general": {"vimMode": True, "preferredEditor": "code"},
        "ui": {"theme": "GitHub"},
        "security": {"auth": {"selectedType": "oauth-personal"}, "folderTrust": {"enabled": True}},
        "mcpServers": {"github": {"command": "github-mcp", "args": ["stdio"]}},
        "model": {"name": "gemini-2.5-pro", "maxSessionTurns": 40},
    },
    indent=2,
)

GEMINI_ENV = """\
# keys for gemini
GOOGLE_CLOUD_PROJECT=my-project
export GEMINI_API_KEY=AIza-old-key
DEBUG=false
"""

OPENCODE = json.dumps(
    {
        "$schema": "https://opencode.ai/config.json",
        "theme": "tokyonight",
        "model": "anthropic/claude-sonnet-4-5",
        "provider": {
            "ollama": {
                "npm": "@ai-sdk/openai-compatible",
                "options": {"baseURL": "http://localhost:11434/v1"},
                "models": {"llama3.2": {"name": "Llama 3.2"}},
            }
        },
        "mcp": {"fs": {"type": "local", "command": ["fs-mcp"]}},
        "keybinds": {"leader": "ctrl+x"},
    },
    indent=2,
)

KILO = json.dumps(
    {
        "model": "openai/gpt-4.1",
        "provider": {"openai": {"env": ["OPENAI_API_KEY"]}},
        "autoupdate": False,
    },
    indent=2,
)

CLINE = json.dumps(
    {
        "version": 1,
        "modes": {"plan": {"provider": "anthropic"}},
        "providers": {
            "anthropic": {
                "settings": {"provider": "anthropic", "apiKey": "sk-ant-cline", "model": "claude"},
                "updatedAt": "2026-11-01T10:00:00.000Z",
                "tokenSource": "manual",
            },
            "openai-compatible": {
                "settings": {
                    "provider": "openai-compatible",
                    "apiKey": "old",
                    "model": "old",
                    "baseUrl": "http://old/v1",
                    "headers": {"X-Team": "a"},
                },
                "updatedAt": "2026-11-01T10:00:00.000Z",
                "tokenSource": "manual",
            },
        },
        "lastUsedProvider": "anthropic",
    },
    indent=2,
)

OPENCLAW = json.dumps(
    {
        "gateway": {"port": 18789, "auth": {"token": "claw-token"}},
        "channels": {"telegram": {"enabled": True}},
        "models": {
            "providers": {
                "local": {
                    "baseUrl": "http://127.0.0.1:8080/v1",
                    "api": "openai-completions",
                    "models": [{"id": "qwen", "name": "Qwen"}],
                }
            }
        },
        "agents": {"defaults": {"model": {"primary": "local/qwen", "fallbacks": ["local/qwen"]}}},
    },
    indent=2,
)

# tool -> {file under home: its text}
EXISTING: dict[str, dict[str, str]] = {
    "claude": {".claude/settings.json": CLAUDE},
    "codex": {".codex/config.toml": CODEX},
    "gemini": {".gemini/settings.json": GEMINI_SETTINGS, ".gemini/.env": GEMINI_ENV},
    "opencode": {".config/opencode/opencode.json": OPENCODE},
    "cline": {".cline/data/settings/providers.json": CLINE},
    "kilo": {".config/kilo/kilo.json": KILO},
    "openclaw": {".openclaw/openclaw.json": OPENCLAW},
}
