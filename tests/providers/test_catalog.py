from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import pytest

from omniroute.errors import ConfigError
from omniroute.formats.wire import WIRE_FORMATS
from omniroute.providers.catalog import QUOTA_READERS, Catalog
from omniroute.providers.oauth.refused import refusal
from omniroute.routing.model import TIERS

REQUIRED_IDS = {
    # API-key and local providers
    "openai", "anthropic", "gemini", "openrouter", "deepseek", "groq", "xai", "mistral",
    "nvidia", "together", "fireworks", "cerebras", "perplexity", "cohere", "siliconflow",
    "huggingface", "dashscope", "moonshot", "zhipu", "minimax", "friendli", "nebius",
    "deepinfra", "sambanova", "ollama", "lmstudio", "vllm", "llamacpp",
    # signed-in subscriptions
    "chatgpt",
    # Coding plans and official keys for third-party agents
    "zai-coding", "kimi-for-coding", "minimax-coding", "alibaba-coding", "github-models",
    "kilo-api", "cline-api", "gemini-free",
}  # fmt: skip

# Each plan or key: (format, base URL, tier, quota reader or None).
PLAN_ENTRIES = {
    "zai-coding": ("openai", "https://api.z.ai/api/coding/paas/v4", "subscription", "zai"),
    "kimi-for-coding": ("openai", "https://api.kimi.com/coding/v1", "subscription", "kimi"),
    "minimax-coding": (
        "anthropic", "https://api.minimax.io/anthropic/v1", "subscription", "minimax",
    ),
    "alibaba-coding": (
        "openai", "https://coding-intl.dashscope.aliyuncs.com/v1", "subscription", None,
    ),
    "github-models": ("openai", "https://models.github.ai/inference", "free", "github"),
    "kilo-api": ("openai", "https://api.kilo.ai/api/gateway", "api", None),
    "cline-api": ("openai", "https://api.cline.bot/api/v1", "api", None),
    "gemini-free": ("gemini", "https://generativelanguage.googleapis.com/v1beta", "free", None),
}  # fmt: skip
# Logins that borrow another vendor's client identity: never in the catalog.
BORROWED = {"claude", "codex", "gemini-cli", "antigravity", "qwen", "iflow", "kiro"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def shipped_data() -> dict[str, Any]:
    text = resources.files("omniroute.providers").joinpath("catalog.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_shipped_catalog_is_large_enough_and_complete(catalog: Catalog) -> None:
    ids = {p.id for p in catalog.all()}
    assert len(catalog) >= 30
    assert ids >= REQUIRED_IDS
    assert not ids & BORROWED


def test_shipped_catalog_ids_and_aliases_are_unique(catalog: Catalog) -> None:
    keys = [p.id for p in catalog.all()] + [p.alias for p in catalog.all()]
    assert len(keys) == len(set(keys))


def test_shipped_catalog_fields_are_known_values(catalog: Catalog) -> None:
    for p in catalog.all():
        assert p.format in WIRE_FORMATS, p.id
        assert p.tier in TIERS, p.id
        assert p.auth in {"api_key", "oauth", "none", "pass-through"}, p.id
        assert (p.flow is not None) == (p.auth == "oauth"), p.id
        url = urlsplit(p.base_url)
        if p.tier == "local":
            assert url.hostname == "127.0.0.1", p.id
            assert p.auth == "none"
            assert all(m.price is None or m.price.blended() == 0 for m in p.models)
        else:
            assert url.scheme == "https", p.id
        assert p.docs.startswith("https://"), p.id


def test_the_only_sign_in_is_the_documented_chatgpt_one(catalog: Catalog) -> None:
    signed_in = [p for p in catalog.all() if p.auth == "oauth"]
    assert [(p.id, p.format, p.flow, p.dialect) for p in signed_in] == [
        ("chatgpt", "openai-responses", "pkce", "chatgpt-plan")
    ]
    assert signed_in[0].base_url == "https://api.openai.com/v1"
    for name in BORROWED | {"cc", "gc", "gh", "kr", "qw", "if", "cx"}:
        assert refusal(name) is not None, name


@pytest.mark.parametrize(
    ("pid", "base_url", "auth_header"),
    [
        ("openai", "https://api.openai.com/v1", "bearer"),
        ("anthropic", "https://api.anthropic.com/v1", "x-api-key"),
        ("gemini", "https://generativelanguage.googleapis.com/v1beta", "x-goog-api-key"),
        ("deepseek", "https://api.deepseek.com/v1", "bearer"),
        ("groq", "https://api.groq.com/openai/v1", "bearer"),
        ("openrouter", "https://openrouter.ai/api/v1", "bearer"),
    ],
)
def test_well_known_base_urls(catalog: Catalog, pid: str, base_url: str, auth_header: str) -> None:
    provider = catalog.get(pid)
    assert provider is not None
    assert provider.base_url == base_url
    assert provider.auth_header == auth_header


@pytest.mark.parametrize("pid", sorted(PLAN_ENTRIES))
def test_coding_plans_and_official_keys_are_api_key_entries(catalog: Catalog, pid: str) -> None:
    fmt, base_url, tier, quota = PLAN_ENTRIES[pid]
    provider = catalog.get(pid)
    assert provider is not None
    assert (provider.format, provider.base_url, provider.tier, provider.quota) == (
        fmt,
        base_url,
        tier,
        quota,
    )
    assert provider.format in WIRE_FORMATS
    assert urlsplit(provider.base_url).scheme == "https"
    # A key pasted from the vendor's console is all it takes.
    assert provider.auth == "api_key" and provider.flow is None
    assert provider.models and all(m.context for m in provider.models)
    assert provider.quota is None or provider.quota in QUOTA_READERS
    assert provider.docs.startswith("https://")
    assert catalog.get(provider.alias) is provider
    assert provider.to_json()["quota"] == quota


def test_every_quota_reader_named_is_a_known_one(catalog: Catalog) -> None:
    named = {p.id: p.quota for p in catalog.all() if p.quota is not None}
    assert set(named.values()) <= QUOTA_READERS
    assert named["kimi-for-coding"] == "kimi" and named["zai-coding"] == "zai"


def test_plans_priced_as_the_pay_per_token_api_and_free_keys_at_zero(catalog: Catalog) -> None:
    glm = catalog.get("zai-coding")
    assert glm is not None
    price = glm.model("glm-4.7").price  # type: ignore[union-attr]
    assert price is not None and price.input > 0  # what the call would have cost
    for pid in ("github-models", "gemini-free"):
        free = catalog.get(pid)
        assert free is not None
        assert all(m.price is not None and m.price.blended() == 0 for m in free.models), pid


def test_lookup_by_id_alias_and_case(catalog: Catalog) -> None:
    assert catalog.get("chatgpt") is catalog.get("chatgpt-plan")
    assert catalog.get("OpenAI") is catalog.get("openai")
    assert catalog.get("glm") is catalog.get("zhipu")
    assert catalog.get("no-such-provider") is None


def test_model_lookup_and_prices(catalog: Catalog) -> None:
    openai = catalog.get("openai")
    assert openai is not None
    gpt5 = openai.model("gpt-5")
    assert gpt5 is not None and gpt5.price is not None
    assert gpt5.context == 400_000
    assert gpt5.price.input < gpt5.price.output
    assert gpt5.price.cached_input is not None and gpt5.price.cached_input < gpt5.price.input
    assert openai.model("gpt-0") is None
    anthropic = catalog.get("anthropic")
    assert anthropic is not None
    assert anthropic.headers["anthropic-version"] == "2023-06-01"


def test_headers_are_read_only(catalog: Catalog) -> None:
    provider = catalog.get("anthropic")
    assert provider is not None
    with pytest.raises(TypeError):
        provider.headers["x"] = "y"  # type: ignore[index]


def _mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(shipped_data())
    change(data["providers"])
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ps: ps.append(copy.deepcopy(ps[0])), "duplicate"),
        (lambda ps: ps[1].update(alias=ps[0]["id"]), "already an id or alias"),
        (lambda ps: ps[0].update(format="soap"), "unknown format"),
        (lambda ps: ps[0].update(tier="premium"), "unknown tier"),
        (lambda ps: ps[0].update(auth="cookie"), "unknown auth"),
        (lambda ps: ps[0].update(base_url="http://api.openai.com/v1"), "https"),
        (lambda ps: ps[0].update(base_url="https://api.openai.com/v1/"), "must not end"),
        (lambda ps: ps[0].update(auth="oauth"), "flow"),
        (lambda ps: ps[0]["models"][0]["price"].update(input=-1), "number >= 0"),
        (lambda ps: ps[0]["models"].append(ps[0]["models"][0]), "duplicate model"),
        (lambda ps: ps[0]["models"][0].update(context="big"), "positive integer"),
        (lambda ps: ps[0].pop("base_url"), "base_url"),
        (lambda ps: ps[0].update(quota="balance-scraper"), "unknown quota reader"),
        (lambda ps: ps[0].update(quota=3), "'quota' must be a string"),
    ],
)
def test_validation_refuses_bad_entries(change: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Catalog.from_data(_mutated(change))


def test_validation_accepts_local_http_only_on_loopback() -> None:
    def move_ollama(ps: list[dict[str, Any]]) -> None:
        next(p for p in ps if p["id"] == "ollama")["base_url"] = "http://10.0.0.5:11434/v1"

    with pytest.raises(ConfigError, match="https"):
        Catalog.from_data(_mutated(move_ollama))


def test_validation_refuses_a_non_catalog_document() -> None:
    with pytest.raises(ConfigError):
        Catalog.from_data({"providers": "nope"})
    with pytest.raises(ConfigError):
        Catalog.from_data([1, 2])
