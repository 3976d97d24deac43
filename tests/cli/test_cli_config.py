"""The real ``omniroute`` command, run in child processes, managing routing."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from omniroute.config.options import FallbackOptions, Options
from omniroute.gateway.resilience import Resilience
from omniroute.providers.catalog import Catalog
from omniroute.routing.breaker import CircuitBreaker
from omniroute.routing.cooldown import Cooldowns
from tests.support.harness import REPO, run_cli

DEEPSEEK_KEY = "sk-deepseek-cli-secret-000111222"
CUSTOM_KEY = "sk-custom-cli-secret-333444555"
PROXY_PASSWORD = "hunter2-proxy-pass"


class Cli:
    """Runs commands against one data dir; keeps every output for secret checks."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.seen: list[str] = []

    def ok(self, *args: str) -> str:
        done = run_cli(*args, data_dir=self.data, check=False)
        self.seen += [done.stdout, done.stderr]
        assert done.returncode == 0, done.stderr
        return done.stdout

    def fails(self, *args: str) -> str:
        """A refused command: exit 2, one clear line, no traceback."""
        done = run_cli(*args, data_dir=self.data, check=False)
        self.seen += [done.stdout, done.stderr]
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
        return done.stderr

    def assert_no_secrets(self, *secrets: str) -> None:
        text = "".join(self.seen)
        for secret in secrets:
            assert secret not in text


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


def test_catalog_provider_add_takes_everything_from_the_catalog(cli: Cli) -> None:
    entry = Catalog.load().get("deepseek")
    assert entry is not None
    out = cli.ok("provider", "add", "deepseek", "--api-key", DEEPSEEK_KEY)
    assert f"provider deepseek ({entry.format}, {entry.base_url}): account 1 added" in out
    # By alias, a second account for the same provider.
    out = cli.ok("provider", "add", entry.alias, "--api-key", DEEPSEEK_KEY + "-2")
    assert "provider deepseek" in out and "2 account(s) in all" in out
    listing = cli.ok("provider", "list")
    assert f"deepseek  format={entry.format}  base_url={entry.base_url}  enabled" in listing
    assert f"tier={entry.tier}" in listing and f"alias={entry.alias}" in listing
    assert entry.models[0].id in listing and "(from the catalog)" in listing
    assert listing.count("  account ") == 2
    borrowed = cli.fails("provider", "add", "cc", "--api-key", "whatever")
    assert "only for Claude Code" in borrowed and "claude-passthrough" in borrowed
    signed_in = cli.fails("provider", "add", "chatgpt", "--api-key", "whatever")
    assert "omniroute login chatgpt" in signed_in
    missing = cli.fails("provider", "add", "deepseek")
    assert "--api-key is required" in missing
    cli.assert_no_secrets(DEEPSEEK_KEY)


def test_custom_provider_add_still_needs_format_and_url(cli: Cli) -> None:
    refused = cli.fails("provider", "add", "acme", "--api-key", CUSTOM_KEY)
    assert "not in the catalog" in refused and "--format and --base-url" in refused
    out = cli.ok(
        "provider",
        "add",
        "acme",
        "--format",
        "anthropic",
        "--base-url",
        "https://acme.test/v1/",
        "--api-key",
        CUSTOM_KEY,
        "--models",
        "a1, a2",
        "--proxy",
        f"socks5://me:{PROXY_PASSWORD}@127.0.0.1:1080",
    )
    assert "provider acme (anthropic, https://acme.test/v1): account 1 added" in out
    # A second account needs no format or URL: the provider exists.
    assert "2 account(s)" in cli.ok("provider", "add", "acme", "--api-key", CUSTOM_KEY + "x")
    listing = cli.ok("provider", "list")
    assert "models: a1, a2" in listing
    assert "account 1  priority=0  on  key=…" in listing
    assert "proxy=socks5://me:***@127.0.0.1:1080" in listing
    cli.assert_no_secrets(CUSTOM_KEY, PROXY_PASSWORD)


def test_catalog_listing_shows_each_models_context_and_price(cli: Cli) -> None:
    catalog = Catalog.load()
    lines = cli.ok("provider", "catalog").splitlines()
    assert "USD per 1M tokens" in lines[0]
    assert lines[1].split() == ["ID", "ALIAS", "TIER", "FORMAT", "AUTH", "BASE", "URL", "MODELS"]
    provider_rows = [line for line in lines[2:] if not line.startswith("    ")]
    assert len(provider_rows) == len(catalog)
    every_model = sum(len(p.models) for p in catalog.all())
    assert len(lines) - 2 - len(provider_rows) >= every_model
    # DeepSeek's block: one line per model with its context and its prices.
    entry = catalog.get("deepseek")
    assert entry is not None and entry.models
    start = next(i for i, line in enumerate(lines) if line.startswith("deepseek "))
    block = lines[start + 1 : start + 1 + len(entry.models)]
    for model, line in zip(entry.models, block, strict=True):
        assert model.price is not None and model.context is not None
        words = line.split()
        assert words[0] == model.id
        assert words[1] == "ctx" and words[2][-1] in "KM"
        shown = float(words[2][:-1]) * (1e3 if words[2][-1] == "K" else 1e6)
        assert abs(shown - model.context) / model.context < 0.05  # 128K for 131072 too
        assert f"${model.price.input:g}/${model.price.output:g}" in line
    free = catalog.get("ollama")
    assert free is not None
    only = cli.ok("provider", "catalog", "ollama").splitlines()
    assert len(only) == 3 + len(free.models) and only[2].startswith("ollama ")
    assert all(line.rstrip().endswith("free") for line in only[3:])
    assert "(no fixed model list" in cli.ok("provider", "catalog", "vllm")
    assert "not in the catalog" in cli.fails("provider", "catalog", "nope")


def test_catalog_json_is_complete(cli: Cli) -> None:
    catalog = Catalog.load()
    rows = json.loads(cli.ok("provider", "catalog", "--json"))
    assert len(rows) == len(catalog) >= 36
    groq = next(r for r in rows if r["id"] == "groq")
    entry = catalog.get("groq")
    assert entry is not None
    assert groq["alias"] == entry.alias and groq["base_url"] == entry.base_url
    assert groq["auth_header"] == entry.auth_header and groq["docs"] == entry.docs
    assert [m["id"] for m in groq["models"]] == list(entry.model_ids)
    first = entry.models[0]
    assert first.price is not None
    assert groq["models"][0]["context"] == first.context
    assert groq["models"][0]["max_output"] == first.max_output
    assert groq["models"][0]["price"]["input"] == first.price.input
    assert groq["models"][0]["price"]["output"] == first.price.output
    (one,) = json.loads(cli.ok("provider", "catalog", entry.alias, "--json"))
    assert one == groq


def test_provider_set_enable_disable_remove(cli: Cli) -> None:
    cli.ok("provider", "add", "deepseek", "--api-key", DEEPSEEK_KEY)
    proxy = f"socks5://bob:{PROXY_PASSWORD}@127.0.0.1:1080"
    cli.ok(
        "provider",
        "set",
        "deepseek",
        "--proxy",
        proxy,
        "--rpm",
        "60",
        "--min-gap",
        "0.5",
        "--max-concurrent",
        "4",
        "--header",
        "X-Team=blue",
        "--header",
        "X-Other=1",
        "--models",
        "deepseek-chat",
    )
    listing = cli.ok("provider", "list")
    assert "proxy: socks5://bob:***@127.0.0.1:1080" in listing
    assert "limits: rpm=60 min_gap=0.5 max_concurrent=4" in listing
    assert "headers: X-Other, X-Team" in listing
    assert "models: deepseek-chat\n" in listing
    # Limits merge; 'none' clears one; 'K=' drops a header; 'direct' forces no proxy.
    cli.ok("provider", "set", "deepseek", "--rpm", "none", "--header", "X-Other=")
    cli.ok("provider", "set", "deepseek", "--proxy", "direct")
    listing = cli.ok("provider", "list")
    assert "limits: min_gap=0.5 max_concurrent=4" in listing
    assert "headers: X-Team\n" in listing and "proxy: direct" in listing
    cli.ok("provider", "set", "deepseek", "--proxy", "none", "--min-gap", "none")
    cli.ok("provider", "set", "deepseek", "--max-concurrent", "none")
    listing = cli.ok("provider", "list")
    assert "proxy" not in listing and "limits" not in listing

    bad_proxy = cli.fails("provider", "set", "deepseek", "--proxy", f"ftp://u:{PROXY_PASSWORD}@h")
    assert "proxy URL must start with one of" in bad_proxy
    assert "needs a whole number" in cli.fails("provider", "set", "deepseek", "--rpm", "lots")
    assert "unknown provider" in cli.fails("provider", "set", "ghost", "--rpm", "1")
    assert "nothing to change" in cli.fails("provider", "set", "deepseek")

    assert "disabled" in cli.ok("provider", "disable", "deepseek")
    assert "deepseek  format=openai" in cli.ok("provider", "list")
    assert "  disabled  " in cli.ok("provider", "list")
    cli.ok("provider", "enable", "deepseek")
    assert "unknown provider 'ghost'" in cli.fails("provider", "enable", "ghost")
    assert "removed" in cli.ok("provider", "remove", "deepseek")
    assert "no providers yet" in cli.ok("provider", "list")
    assert "unknown provider" in cli.fails("provider", "remove", "deepseek")
    cli.assert_no_secrets(DEEPSEEK_KEY, PROXY_PASSWORD)


def test_provider_capabilities(cli: Cli) -> None:
    out = cli.ok(
        "provider", "add", "box", "--format", "openai", "--base-url", "http://127.0.0.1:9/v1",
        "--api-key", CUSTOM_KEY, "--capabilities", "embeddings, chat",
    )  # fmt: skip
    assert "provider box" in out
    assert "capabilities: chat, embeddings\n" in cli.ok("provider", "list")
    cli.ok("provider", "set", "box", "--capabilities", "rerank")
    assert "capabilities: rerank\n" in cli.ok("provider", "list")
    cli.ok("provider", "set", "box", "--capabilities", "none")  # back to everything
    listing = cli.ok("provider", "list")
    assert "capabilities: chat, embeddings, images, transcription, speech" in listing
    refused = cli.fails("provider", "set", "box", "--capabilities", "telepathy")
    assert "unknown capabilities telepathy" in refused
    cli.ok("provider", "add", "deepseek", "--api-key", DEEPSEEK_KEY)
    assert "capabilities: chat\n" in cli.ok("provider", "list")  # the catalog's


def test_account_set(cli: Cli) -> None:
    cli.ok("provider", "add", "deepseek", "--api-key", DEEPSEEK_KEY)
    out = cli.ok(
        "account",
        "set",
        "1",
        "--priority",
        "5",
        "--disable",
        "--proxy",
        f"http://al:{PROXY_PASSWORD}@127.0.0.1:3128",
        "--rpm",
        "10",
        "--max-queue",
        "3",
    )
    assert "account 1 updated: priority=5 off" in out
    listing = cli.ok("provider", "list")
    assert "account 1  priority=5  off" in listing
    assert "proxy=http://al:***@127.0.0.1:3128" in listing
    assert "limits: rpm=10 max_queue=3" in listing
    assert "priority=5 on" in cli.ok("account", "set", "1", "--enable")
    assert "unknown account id 9" in cli.fails("account", "set", "9", "--enable")
    cli.fails("account", "set", "1", "--enable", "--disable")
    cli.assert_no_secrets(DEEPSEEK_KEY, PROXY_PASSWORD)


def test_combos(cli: Cli) -> None:
    cli.ok("provider", "add", "deepseek", "--api-key", DEEPSEEK_KEY)
    cli.ok("provider", "add", "groq", "--api-key", CUSTOM_KEY)
    out = cli.ok(
        "combo",
        "add",
        "fast",
        "deepseek/deepseek-chat",
        "gq/llama-3.3-70b-versatile",
        "--strategy",
        "weighted",
        "--weights",
        "3,1",
        "--system-prompt",
        "Answer briefly.",
    )
    assert "combo fast saved: 2 target(s), weighted" in out
    cli.ok("combo", "add", "outer", "fast", "deepseek-chat")
    listing = cli.ok("combo", "list")
    assert "fast  strategy=weighted  enabled" in listing
    assert "1. deepseek/deepseek-chat  weight=3" in listing
    assert "2. gq/llama-3.3-70b-versatile  weight=1" in listing
    assert "system prompt: Answer briefly." in listing
    assert listing.index("fast  ") < listing.index("outer  ")

    assert "cycle fast → outer → fast" in cli.fails("combo", "add", "fast", "outer")
    assert "unknown target 'nope/x'" in cli.fails("combo", "add", "bad", "nope/x")
    assert "unknown strategy" in cli.fails("combo", "add", "bad", "m", "--strategy", "odd")
    assert "--weights has 1 value" in cli.fails("combo", "add", "bad", "a", "b", "--weights", "1")
    # Replacing keeps the name; the old definition is gone.
    cli.ok("combo", "add", "fast", "deepseek-chat")
    assert "weight=3" not in cli.ok("combo", "list")

    assert "combo outer disabled" in cli.ok("combo", "disable", "outer")
    assert "outer  strategy=fill-first  disabled" in cli.ok("combo", "list")
    cli.ok("combo", "enable", "outer")
    assert "target of combo 'outer'" in cli.fails("combo", "remove", "fast")
    assert "combo outer removed" in cli.ok("combo", "remove", "outer")
    assert "unknown combo 'outer'" in cli.fails("combo", "remove", "outer")
    assert "unknown combo" in cli.fails("combo", "enable", "outer")


def test_removing_a_provider_names_the_combos_that_still_use_it(cli: Cli) -> None:
    cli.ok("provider", "add", "deepseek", "--api-key", DEEPSEEK_KEY)
    cli.ok("provider", "add", "groq", "--api-key", CUSTOM_KEY)
    cli.ok("combo", "add", "coding", "deepseek/deepseek-chat", "gq/llama-3.3-70b-versatile")
    cli.ok("combo", "add", "cheap", "ds/deepseek-reasoner", "deepseek-chat")
    cli.ok("combo", "add", "fast", "groq/llama-3.3-70b-versatile")
    assert "(no such provider)" not in cli.ok("combo", "list")

    done = run_cli("provider", "remove", "deepseek", data_dir=cli.data)
    assert "provider deepseek removed" in done.stdout
    warnings = sorted(done.stderr.splitlines())
    assert len(warnings) == 2, done.stderr
    cheap, coding = warnings
    assert cheap.startswith("omniroute: warning: combo cheap still names deepseek: ")
    assert "ds/deepseek-reasoner" in cheap
    assert coding.startswith("omniroute: warning: combo coding still names deepseek: ")
    assert "deepseek/deepseek-chat" in coding and "gq/" not in coding

    listing = cli.ok("combo", "list").splitlines()
    assert "  1. deepseek/deepseek-chat  weight=1  (no such provider)" in listing
    assert "  2. gq/llama-3.3-70b-versatile  weight=1" in listing
    assert "  1. ds/deepseek-reasoner  weight=1  (no such provider)" in listing
    assert "  2. deepseek-chat  weight=1  (no provider serves it)" in listing
    assert "  1. groq/llama-3.3-70b-versatile  weight=1" in listing
    # A provider no combo names is removed without a word on stderr.
    cli.ok("provider", "add", "mistral", "--api-key", CUSTOM_KEY + "-m")
    assert run_cli("provider", "remove", "mistral", data_dir=cli.data).stderr == ""


def test_aliases(cli: Cli) -> None:
    assert "no aliases yet" in cli.ok("alias", "list")
    cli.ok("alias", "add", "claude-*", "deepseek/deepseek-chat")
    cli.ok("alias", "add", "gpt-*", "deepseek/*")
    cli.ok("alias", "add", "claude-*", "groq/*")  # replaced in place
    assert cli.ok("alias", "list").splitlines() == [
        "1. claude-* -> groq/*",
        "2. gpt-* -> deepseek/*",
    ]
    assert "more '*'" in cli.fails("alias", "add", "x", "y*")
    assert "alias gpt-* removed" in cli.ok("alias", "remove", "gpt-*")
    assert "unknown alias" in cli.fails("alias", "remove", "gpt-*")
    assert cli.ok("alias", "list").splitlines() == ["1. claude-* -> groq/*"]


def _signature_default(component: type, name: str) -> object:
    return inspect.signature(component).parameters[name].default


def test_config_show_prints_the_defaults_the_gateway_uses(cli: Cli) -> None:
    # Read from the components themselves: what a running gateway would use.
    fallback, options = FallbackOptions(), Options()
    expected = [
        "proxy = none (default)",
        "system-prompt = none (default)",
        f"account-strategy = {options.account_strategy} (default)",
        "breaker.failure-threshold = "
        f"{_signature_default(CircuitBreaker, 'failure_threshold')} (default)",
        f"breaker.window = {_signature_default(CircuitBreaker, 'window')} (default)",
        f"breaker.cooldown = {_signature_default(CircuitBreaker, 'cooldown')} (default)",
        f"cooldown.base = {_signature_default(Cooldowns, 'base')} (default)",
        f"cooldown.factor = {_signature_default(Cooldowns, 'factor')} (default)",
        f"cooldown.cap = {_signature_default(Cooldowns, 'cap')} (default)",
        f"fallback.max-attempts = {fallback.max_attempts} (default)",
        f"fallback.max-seconds = {fallback.max_seconds} (default)",
        "public-hosts = none (default)",
        "trusted-proxies = none (default)",
        f"audit-retention-days = {options.audit_retention_days} (default)",
        "client-allow = none (default)",
        "client-deny = none (default)",
        "admin-allow = none (default)",
        "admin-deny = none (default)",
        "ip-rpm = none (default)",
        f"injection-guard = {options.injection_guard} (default)",
        f"backup-retention = {options.backup_retention} (default)",
        f"backup-interval-hours = {options.backup_interval_hours} (default)",
        "allow-link-local-base-urls = off (default)",
        "log.file = none (default)",
        f"log.max-bytes = {options.log.max_bytes} (default)",
        f"log.backups = {options.log.backups} (default)",
        "request-log.max-rows = none (default)",
        "request-log.capture-bodies = off (default)",
        f"request-log.capture-max-bytes = {options.request_log.capture_max_bytes} (default)",
        "request-log.capture-retention-hours = "
        f"{options.request_log.capture_retention_hours} (default)",
        "cache.enabled = off (default)",
        f"cache.ttl = {options.cache.ttl} (default)",
        f"cache.max-bytes = {options.cache.max_bytes} (default)",
        "cache.tools = off (default)",
        "cache.combos = none (default)",
        "cache.skip-combos = none (default)",
        f"quota.skip-at = {options.quota.skip_at} (default)",
    ]
    assert cli.ok("config", "show").splitlines() == expected
    # The gateway's own breakers start from the same values.
    breaker = Resilience().breakers.get("provider:x")
    assert breaker.failure_threshold == _signature_default(CircuitBreaker, "failure_threshold")
    assert breaker.cooldown == _signature_default(CircuitBreaker, "cooldown")
    assert cli.ok("config", "set", "cooldown.cap", "none").strip() == expected[8]


def test_config_set_and_show(cli: Cli) -> None:
    shown = cli.ok("config", "show")
    assert "proxy = none (default)" in shown
    assert "proxy = socks5h://u:***@127.0.0.1:9050" in cli.ok(
        "config", "set", "proxy", f"socks5h://u:{PROXY_PASSWORD}@127.0.0.1:9050"
    )
    cli.ok("config", "set", "system-prompt", "You are terse.")
    cli.ok("config", "set", "breaker.failure-threshold", "3")
    cli.ok("config", "set", "breaker.window", "30")
    cli.ok("config", "set", "cooldown.base", "2")
    cli.ok("config", "set", "cooldown.cap", "120")
    cli.ok("config", "set", "fallback.max-attempts", "4")
    cli.ok("config", "set", "fallback.max-seconds", "90")
    cli.ok("config", "set", "account-strategy", "round-robin")
    shown = cli.ok("config", "show")
    for line in (
        "proxy = socks5h://u:***@127.0.0.1:9050",
        'system-prompt = "You are terse."',
        "account-strategy = round-robin",
        "breaker.failure-threshold = 3",
        "breaker.window = 30.0",
        "breaker.cooldown = 30.0 (default)",
        "cooldown.base = 2.0",
        "cooldown.cap = 120.0",
        "fallback.max-attempts = 4",
        "fallback.max-seconds = 90.0",
    ):
        assert line in shown.splitlines()
    assert "proxy = none (default)" in cli.ok("config", "set", "proxy", "none")
    cli.ok("config", "set", "breaker.window", "none")
    shown = cli.ok("config", "show")
    assert "proxy = none (default)" in shown and "breaker.window = 60.0 (default)" in shown
    assert "breaker.failure-threshold = 3" in shown

    assert "whole number >= 1" in cli.fails("config", "set", "breaker.failure-threshold", "0")
    assert "needs a number" in cli.fails("config", "set", "fallback.max-seconds", "soon")
    assert "unknown strategy" in cli.fails("config", "set", "account-strategy", "odd")
    assert "must not be below" in cli.fails("config", "set", "cooldown.cap", "1")
    assert "must start with one of" in cli.fails("config", "set", "proxy", "gopher://h")
    cli.fails("config", "set", "no.such.key", "1")
    cli.assert_no_secrets(PROXY_PASSWORD)


def test_address_lists_rate_and_injection_guard_settings(cli: Cli) -> None:
    cli.ok("config", "set", "client-allow", "10.0.0.0/8, 2001:db8::1")
    cli.ok("config", "set", "admin-deny", "192.0.2.7")
    cli.ok("config", "set", "ip-rpm", "120")
    cli.ok("config", "set", "injection-guard", "block")
    shown = cli.ok("config", "show").splitlines()
    for line in (
        "client-allow = 10.0.0.0/8, 2001:db8::1/128",
        "client-deny = none (default)",
        "admin-deny = 192.0.2.7/32",
        "ip-rpm = 120",
        "injection-guard = block",
    ):
        assert line in shown
    assert "'client_deny': '10.0.0.300' is not an IP" in cli.fails(
        "config", "set", "client-deny", "10.0.0.300"
    )
    assert "'ip_rpm' must be a whole number from 1" in cli.fails("config", "set", "ip-rpm", "0")
    assert "off, log, block" in cli.fails("config", "set", "injection-guard", "loud")
    cli.ok("config", "set", "client-allow", "none")
    assert "client-allow = none (default)" in cli.ok("config", "show").splitlines()


def test_keys_list_and_revoke(cli: Cli) -> None:
    assert "no client keys yet" in cli.ok("key", "list")
    key = cli.ok("key", "create", "--name", "laptop").strip().splitlines()[-1]
    cli.ok("key", "create")
    listing = cli.ok("key", "list").splitlines()
    assert len(listing) == 2
    assert listing[0].startswith(f"key 1  {key[:12]}…  active")
    assert listing[0].endswith("name=laptop") and "last_used=never" in listing[0]
    assert "client key 1 revoked" in cli.ok("key", "revoke", "1")
    assert "no active client key with id 1" in cli.fails("key", "revoke", "1")
    listing = cli.ok("key", "list").splitlines()
    assert "  revoked  " in listing[0] and "  active  " in listing[1]
    # The full key was shown once, by `key create`, and never again.
    assert sum(key in text for text in cli.seen) == 1


def test_key_scope_expiry_and_usage_from_the_cli(cli: Cli) -> None:
    cli.ok("provider", "add", "deepseek", "--api-key", DEEPSEEK_KEY)
    key = cli.ok(
        "key", "create", "--name", "ci", "--models", "deepseek/*, my-combo",
        "--providers", "DeepSeek", "--expires", "30d", "--rpm", "60", "--max-concurrent", "4",
    ).strip().splitlines()[-1]  # fmt: skip
    (line,) = cli.ok("key", "list").splitlines()
    assert line.startswith(f"key 1  {key[:12]}…  active  created=")
    for part in (
        "last_used=never", "requests=0", "tokens=0/0", "models=deepseek/*,my-combo",
        "providers=deepseek", "rpm=60", "max_concurrent=4",
    ):  # fmt: skip
        assert f"  {part}  " in line
    assert line.endswith("  name=ci") and "expires=never" not in line
    changed = cli.ok("key", "set", "1", "--models", "none", "--rpm", "none", "--expires", "never")
    assert "models=" not in changed and "rpm=" not in changed and "expires=never" in changed
    assert "providers=deepseek" in changed and "max_concurrent=4" in changed
    assert "unknown provider(s) 'nope'" in cli.fails("key", "set", "1", "--providers", "nope")
    assert "'expires': 'soon' is not a duration" in cli.fails("key", "create", "--expires", "soon")
    assert "no client key with id 7" in cli.fails("key", "set", "7", "--rpm", "1")
    assert "needs a whole number from 1" in cli.fails("key", "create", "--rpm", "0")
    assert "providers=deepseek" in cli.ok("key", "list")  # the refused changes changed nothing
    cli.ok("key", "revoke", "1")
    assert "is revoked" in cli.fails("key", "set", "1", "--rpm", "5")
    assert sum(key in text for text in cli.seen) == 1


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "omniroute", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=REPO,
    ).stdout
    for words in (
        "provider add",
        "provider catalog",
        "provider set",
        "provider discover",
        "account set",
        "combo add",
        "alias add",
        "config set",
        "key revoke",
        "key list | key set ID",
    ):
        assert words in out
    sub = run_cli("provider", "set", "--help", data_dir=Path("/nonexistent")).stdout
    for flag in ("--proxy", "--rpm", "--min-gap", "--max-concurrent", "--max-queue", "--header"):
        assert flag in sub


def test_quota_skip_at_is_a_share(cli: Cli) -> None:
    assert cli.ok("config", "set", "quota.skip-at", "0.9").strip() == "quota.skip-at = 0.9"
    for bad in ("0", "1.5"):
        assert "quota.skip-at must be a share above 0 and at most 1" in cli.fails(
            "config", "set", "quota.skip-at", bad
        )
    assert "quota.skip-at = 0.95 (default)" in cli.ok("config", "set", "quota.skip-at", "none")
