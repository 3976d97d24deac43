"""Sign-ins we deliberately do not offer, and what to use instead.

Each of these would borrow another vendor's client identity (a CLI's or an
editor's OAuth client), which the vendor does not allow and has answered with
refusals or suspended accounts; two services have shut down. A gateway that
gets its users banned is not dependable, so asking for one of them gets one
line saying why and naming the supported alternative.
"""

from __future__ import annotations

_CLAUDE = (
    "Claude subscription sign-ins are only for Claude Code and Anthropic's own apps "
    "(Anthropic's terms; its API refuses them elsewhere). Point Claude Code at the gateway "
    "with `omniroute provider add claude-passthrough` (its own sign-in goes through "
    "untouched), or use an API key: `omniroute provider add anthropic --api-key KEY`."
)
_GOOGLE = (
    "Google calls using Gemini CLI's or Antigravity's sign-in from other software a terms "
    "violation and has suspended accounts for it. Use a Google AI Studio key (it has a free "
    "tier): `omniroute provider add gemini-free --api-key KEY`."
)
_COPILOT = (
    "The Copilot sign-in belongs to GitHub's own editors and tools; reusing it puts your "
    "Copilot access at risk. Use GitHub Models with a fine-grained token (models:read): "
    "`omniroute provider add github-models --api-key TOKEN`."
)
_KIRO = (
    "Kiro's sign-in belongs to the Kiro app; it is not offered to other software. Use an "
    "Anthropic API key: `omniroute provider add anthropic --api-key KEY`."
)
_KIMI = (
    "Kimi CLI's device sign-in belongs to Kimi's own client. Use a Kimi For Coding key: "
    "`omniroute provider add kimi-for-coding --api-key KEY`."
)
_CLINE = (
    "Cline's sign-in belongs to the Cline extension. Use a Cline API key: "
    "`omniroute provider add cline-api --api-key KEY`."
)
_KILO = (
    "Kilo Code's device sign-in belongs to Kilo Code. Use a Kilo API key: "
    "`omniroute provider add kilo-api --api-key KEY`."
)
_QWEN = (
    "Qwen's OAuth free tier was shut down on 2026-04-15. Use an Alibaba Cloud Model Studio "
    "key: `omniroute provider add dashscope --api-key KEY`."
)
_IFLOW = "iFlow shut down on 2026-04-17. Use another provider (`omniroute provider catalog`)."
_CODEX = (
    "The Codex CLI's sign-in belongs to the Codex CLI. Use the sign-in OpenAI documents for "
    "open-source apps instead: `omniroute login chatgpt`."
)

REFUSED: dict[str, str] = {
    **dict.fromkeys(("claude", "cc", "claude-code", "anthropic"), _CLAUDE),
    **dict.fromkeys(("gemini-cli", "gc", "gemini", "antigravity", "ag", "google"), _GOOGLE),
    **dict.fromkeys(("copilot", "github-copilot", "gh", "github"), _COPILOT),
    **dict.fromkeys(("kiro", "kr", "codewhisperer"), _KIRO),
    **dict.fromkeys(("kimi", "kimi-cli", "kmc", "kimi-coding"), _KIMI),
    **dict.fromkeys(("cline", "cl"), _CLINE),
    **dict.fromkeys(("kilo", "kilocode", "kc"), _KILO),
    **dict.fromkeys(("qwen", "qw"), _QWEN),
    **dict.fromkeys(("iflow", "if"), _IFLOW),
    **dict.fromkeys(("codex", "cx"), _CODEX),
}


def refusal(name: str) -> str | None:
    """Why there is no sign-in called ``name`` (None: not one we refuse)."""
    return REFUSED.get(name.strip().lower())
