"""The prompt-injection guard: a small, documented set of phrasings that
try to take over a model, looked for in what the client's user wrote.

Setting ``injection-guard``:

    off    (default) nothing is looked at
    log    a matching request goes on; a warning line and an audit row
           name the pattern (never the text)
    block  a matching request is refused with 400 in the caller's dialect,
           and leaves the same line and audit row

What is scanned: the text of every user message of a chat request, in any
client format (after it is parsed, so the four formats are judged alike).
Not scanned: system instructions (the client's own), the model's earlier
answers, and tool results: agents read files and pages that quote these
phrases for good reasons (this very module does).

It is a tripwire for the obvious, not a defence: a determined attacker
rephrases. The patterns:

    ignore-instructions   "ignore/disregard/forget/override (all) previous,
                          prior, above, earlier, your, system … instructions,
                          prompts, rules"
    reveal-prompt         "reveal/show/print/repeat/tell me … your system prompt,
                          initial or hidden instructions, your instructions"
    repeat-above          "repeat the words/text above"
    role-override         "you are now (an) unrestricted/unfiltered/jailbroken …",
                          "you are no longer bound by",
                          "act as an unfiltered …", "developer/DAN mode enabled",
                          "do anything now"
    template-markers      chat-template tokens pasted into text: <|im_start|>,
                          <|system|>, <|endoftext|>, <|start_header_id|>,
                          [INST], <<SYS>>
    fake-role-header      a line starting "system:" or "### system" followed by
                          an order ("system: you must…", "### System: ignore…")
    new-instructions      "new/updated/real instructions:", "system override",
                          "admin override"
    safety-bypass         "bypass/disable/ignore (the) safety/content/moderation
                          filters, guidelines, restrictions, policies"
"""

from __future__ import annotations

import logging
import re
import time

from omniroute.config.options import INJECTION_MODES
from omniroute.errors import BadRequest
from omniroute.formats import ir
from omniroute.gateway.call import Call
from omniroute.store import Store
from omniroute.store.admin import AdminRows

log = logging.getLogger("omniroute.injection")

OFF, LOG, BLOCK = INJECTION_MODES

_FLAGS = re.IGNORECASE | re.MULTILINE
_WORDS = r"(?:[\w'-]+\s+){0,3}?"  # up to three words in between

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(regex, _FLAGS))
    for name, regex in (
        (
            "ignore-instructions",
            r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|of\s+)*"
            r"(?:previous|prior|above|earlier|preceding|foregoing|your|system|developer)\s+"
            + _WORDS
            + r"(?:instructions?|prompts?|rules|directions|guidelines)\b",
        ),
        (
            "reveal-prompt",
            r"\b(?:reveal|show|print|repeat|output|display|leak|dump|tell\s+me)\s+(?:me\s+)?"
            + _WORDS
            + r"(?:system\s+(?:prompt|message)|(?:initial|hidden|secret|original)\s+"
            r"(?:prompt|instructions)|your\s+instructions)\b",
        ),
        ("repeat-above", r"\brepeat\s+" + _WORDS + r"(?:words|text|everything)\s+above\b"),
        (
            "role-override",
            r"\byou\s+are\s+now\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|dan)\b"
            r"|\byou\s+are\s+no\s+longer\s+bound\s+by\b"
            r"|\b(?:act|behave|pretend|roleplay)\s+as\s+(?:an?\s+)?"
            r"(?:unrestricted|unfiltered|uncensored|jailbroken)\b"
            r"|\b(?:developer|dan|jailbreak|god)\s+mode\s+(?:enabled|activated|on)\b"
            r"|\bdo\s+anything\s+now\b",
        ),
        (
            "template-markers",
            r"<\|(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\|>"
            r"|\[/?INST\]|<<\s*/?SYS\s*>>",
        ),
        (
            "fake-role-header",
            r"^\s*(?:#{1,6}\s*)?system\s*:\s*(?:you\s+(?:must|are|will)|ignore|from\s+now)",
        ),
        (
            "new-instructions",
            r"\b(?:new|updated|revised|real)\s+(?:system\s+)?instructions\s*:"
            r"|\b(?:system|admin|administrator)\s+override\b",
        ),
        (
            "safety-bypass",
            r"\b(?:bypass|disable|turn\s+off|ignore)\s+(?:all\s+|the\s+|your\s+|any\s+)*"
            r"(?:safety|content|ethical|moderation)\s+"
            r"(?:filters?|guidelines|rules|restrictions|polic(?:y|ies))\b",
        ),
    )
)


def find(request: ir.Request) -> str | None:
    """The name of the first pattern found in the request's user text, or None."""
    for message in request.messages:
        if message.role != "user":
            continue
        for part in message.parts:
            if isinstance(part, ir.TextPart):
                for name, pattern in PATTERNS:
                    if pattern.search(part.text):
                        return name
    return None


class InjectionGuard:
    __slots__ = ("_rows",)

    def __init__(self, store: Store) -> None:
        self._rows = AdminRows(store)

    async def check(self, call: Call, mode: str) -> None:
        """Look at a call's user text (``mode`` log or block); BadRequest
        when blocked."""
        pattern = find(call.ir_request())
        if pattern is None:
            return
        blocked = mode == BLOCK
        action = "injection.blocked" if blocked else "injection.logged"
        who = f"key {call.client_key_id}" if call.client_key_id is not None else "no key"
        log.warning(
            "request %s (%s): prompt-injection pattern %r, %s",
            call.request_id,
            who,
            pattern,
            "blocked" if blocked else "let through",
        )
        detail = {"pattern": pattern, "request_id": call.request_id, "model": call.model,
                  "format": call.dialect}  # fmt: skip
        try:
            await self._rows.audit(time.time(), "client", action, who, detail, call.client_address)
        except Exception:  # the log line above is still there
            log.exception("request %s: could not write the audit row", call.request_id)
        if blocked:
            raise BadRequest(
                f"This request was refused: it matches the prompt-injection pattern {pattern!r}."
            )
