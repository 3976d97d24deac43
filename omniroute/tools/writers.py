"""One writer per tool: the files it reads and what goes in them.

Every writer merges: it reads the file the user has, sets only the entries
that point the tool at this gateway, and keeps everything else. Where the
entries come from (each tool's own documentation):

- Claude Code, ``~/.claude/settings.json``: its ``env`` block, which Claude
  Code applies before starting (ANTHROPIC_BASE_URL without /v1; the token
  goes as a Bearer header; the opus/sonnet/haiku aliases and subagents
  mapped to the chosen model).
- Codex CLI, ``~/.codex/config.toml``: ``model``, ``model_provider`` and a
  ``[model_providers.omniroute]`` table; recent Codex accepts only
  ``wire_api = "responses"``.
- Gemini CLI, ``~/.gemini/settings.json`` (API-key sign-in, ``model.name``)
  and ``~/.gemini/.env`` (GOOGLE_GEMINI_BASE_URL, GEMINI_API_KEY, GEMINI_MODEL).
- OpenCode, ``~/.config/opencode/opencode.json``, and the Kilo CLI, which
  reads the same shape from ``~/.config/kilo/kilo.json``: a provider using
  ``@ai-sdk/openai-compatible`` with ``options.baseURL`` and its models.
- Cline, ``~/.cline/data/settings/providers.json``, which the Cline CLI and
  its editor extensions share: the ``openai-compatible`` provider entry,
  made the last used one.
- OpenClaw, ``~/.openclaw/openclaw.json``: ``models.providers.omniroute``
  (``api: "openai-completions"``) and the default agent model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omniroute.tools import toml_edit
from omniroute.tools.files import dump_json, load_json_object, merge_dotenv, set_path

PROVIDER_ID = "omniroute"
PROVIDER_NAME = "OmniRoute"


@dataclass(frozen=True, slots=True)
class Target:
    """What a tool is pointed at."""

    url: str  # the gateway's origin, no trailing slash
    key: str  # a client key
    model: str  # the tool's default model
    models: tuple[str, ...]  # every model offered to tools that list them

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    @property
    def offered(self) -> tuple[str, ...]:
        return self.models if self.model in self.models else (self.model, *self.models)


# (the file's text or None, target, path, now) -> the new text
Merge = Callable[[str | None, Target, Path, datetime], str]


@dataclass(frozen=True, slots=True)
class ToolFile:
    relative: str  # under the home directory
    merge: Merge


def _json(edit: Callable[[dict[str, Any], Target, datetime], None]) -> Merge:
    def merge(text: str | None, target: Target, path: Path, now: datetime) -> str:
        doc = load_json_object(text, path)
        edit(doc, target, now)
        return dump_json(doc)

    return merge


def _claude(doc: dict[str, Any], t: Target, _now: datetime) -> None:
    env = doc.get("env")
    if not isinstance(env, dict):
        env = {}
        doc["env"] = env
    # Both headers would go out, and a gateway reads x-api-key first.
    env.pop("ANTHROPIC_API_KEY", None)
    env.update(
        {
            "ANTHROPIC_BASE_URL": t.url,
            "ANTHROPIC_AUTH_TOKEN": t.key,
            "ANTHROPIC_MODEL": t.model,
            "ANTHROPIC_DEFAULT_OPUS_MODEL": t.model,
            "ANTHROPIC_DEFAULT_SONNET_MODEL": t.model,
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": t.model,
            "CLAUDE_CODE_SUBAGENT_MODEL": t.model,
        }
    )


def _codex(text: str | None, t: Target, _path: Path, _now: datetime) -> str:
    return toml_edit.set_values(
        text or "",
        {"model": t.model, "model_provider": PROVIDER_ID},
        f"model_providers.{PROVIDER_ID}",
        {
            "name": PROVIDER_NAME,
            "base_url": t.v1,
            # The key in the file itself, so that the setup is complete
            # without an exported variable.
            "experimental_bearer_token": t.key,
            "wire_api": "responses",
        },
    )


def _gemini_settings(doc: dict[str, Any], t: Target, _now: datetime) -> None:
    set_path(doc, ("security", "auth", "selectedType"), "gemini-api-key")
    set_path(doc, ("model", "name"), t.model)


def _gemini_env(text: str | None, t: Target, _path: Path, _now: datetime) -> str:
    return merge_dotenv(
        text,
        {"GOOGLE_GEMINI_BASE_URL": t.url, "GEMINI_API_KEY": t.key, "GEMINI_MODEL": t.model},
    )


def _ai_sdk_provider(t: Target) -> dict[str, Any]:
    return {
        "npm": "@ai-sdk/openai-compatible",
        "name": PROVIDER_NAME,
        "options": {"baseURL": t.v1, "apiKey": t.key},
        "models": {m: {"name": m} for m in t.offered},
    }


def _kilo(doc: dict[str, Any], t: Target, now: datetime) -> None:
    set_path(doc, ("provider", PROVIDER_ID), _ai_sdk_provider(t))
    doc["model"] = f"{PROVIDER_ID}/{t.model}"


def _opencode(doc: dict[str, Any], t: Target, now: datetime) -> None:
    # Kilo's file is OpenCode's, without the schema line.
    doc.setdefault("$schema", "https://opencode.ai/config.json")
    _kilo(doc, t, now)


CLINE_PROVIDER = "openai-compatible"


def _cline(doc: dict[str, Any], t: Target, now: datetime) -> None:
    doc.setdefault("version", 1)
    doc.setdefault("modes", {})
    providers = doc.get("providers")
    if not isinstance(providers, dict):
        providers = {}
        doc["providers"] = providers
    entry = providers.get(CLINE_PROVIDER)
    previous = entry.get("settings") if isinstance(entry, dict) else None
    settings = dict(previous) if isinstance(previous, dict) else {}
    settings.update(
        {"provider": CLINE_PROVIDER, "apiKey": t.key, "model": t.model, "baseUrl": t.v1}
    )
    providers[CLINE_PROVIDER] = {
        "settings": settings,
        "updatedAt": now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "tokenSource": "manual",
    }
    doc["lastUsedProvider"] = CLINE_PROVIDER


def _openclaw(doc: dict[str, Any], t: Target, _now: datetime) -> None:
    models = doc.get("models")
    if not isinstance(models, dict):
        models = {}
        doc["models"] = models
    # "merge" keeps OpenClaw's built-in providers beside ours.
    models.setdefault("mode", "merge")
    set_path(
        doc,
        ("models", "providers", PROVIDER_ID),
        {
            "baseUrl": t.v1,
            "apiKey": t.key,
            "api": "openai-completions",
            "models": [{"id": m, "name": m} for m in t.offered],
        },
    )
    set_path(doc, ("agents", "defaults", "model", "primary"), f"{PROVIDER_ID}/{t.model}")


TOOLS: Mapping[str, tuple[ToolFile, ...]] = {
    "claude": (ToolFile(".claude/settings.json", _json(_claude)),),
    "codex": (ToolFile(".codex/config.toml", _codex),),
    "gemini": (
        ToolFile(".gemini/settings.json", _json(_gemini_settings)),
        ToolFile(".gemini/.env", _gemini_env),
    ),
    "opencode": (ToolFile(".config/opencode/opencode.json", _json(_opencode)),),
    "cline": (ToolFile(".cline/data/settings/providers.json", _json(_cline)),),
    "kilo": (ToolFile(".config/kilo/kilo.json", _json(_kilo)),),
    "openclaw": (ToolFile(".openclaw/openclaw.json", _json(_openclaw)),),
}
