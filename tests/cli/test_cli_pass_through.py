"""``omniroute provider add … --pass-through`` and ``provider add
claude-passthrough``: the terms note printed, no key asked for, the kind
in ``provider list``; discovery refuses to ask with no credential."""

from __future__ import annotations

from pathlib import Path

from tests.support.harness import run_cli


def test_adding_claude_passthrough_prints_the_terms_note(tmp_path: Path) -> None:
    out = run_cli("provider", "add", "claude-passthrough", data_dir=tmp_path).stdout
    assert "pass-through account 1 added" in out
    assert "Anthropic's terms allow a Claude subscription sign-in" in out
    assert "Claude Code and Anthropic's own apps" in out
    assert "never takes, stores or refreshes the token" in out
    assert "own risk" in out
    assert "export ANTHROPIC_BASE_URL=http://127.0.0.1:20128\n" in out  # the default port
    assert 'export ANTHROPIC_CUSTOM_HEADERS="X-OmniRoute-Key: <your sk-omni key>"' in out
    listing = run_cli("provider", "list", data_dir=tmp_path).stdout
    line = next(x for x in listing.splitlines() if x.strip().startswith("account 1"))
    assert "pass-through" in line and "key=" not in line
    again = run_cli("provider", "add", "claude-passthrough", data_dir=tmp_path, check=False)
    assert again.returncode != 0 and "has a pass-through account already" in again.stderr
    keyed = run_cli(
        "provider", "add", "ccp", "--api-key", "sk-ant-oat01-x", data_dir=tmp_path, check=False
    )
    assert keyed.returncode != 0 and "leave out --api-key" in keyed.stderr
    assert "sk-ant-oat01-x" not in keyed.stderr


def test_any_provider_gets_a_pass_through_account(tmp_path: Path) -> None:
    run_cli(
        "provider", "add", "team", "--format", "openai", "--base-url", "https://team.test/v1",
        "--api-key", "sk-team-shared-key-0001", data_dir=tmp_path,
    )  # fmt: skip
    added = run_cli("provider", "add", "team", "--pass-through", data_dir=tmp_path).stdout
    assert "pass-through account 2 added, 2 account(s) in all" in added
    assert "X-OmniRoute-Key" in added and "never stored" in added
    listing = run_cli("provider", "list", data_dir=tmp_path).stdout
    accounts = [x.strip() for x in listing.splitlines() if x.strip().startswith("account ")]
    assert "key=" in accounts[0] and "sk-team-shared-key-0001" not in listing
    assert accounts[1].endswith("pass-through")
    # A key account still needs its key.
    bare = run_cli("provider", "add", "team", data_dir=tmp_path, check=False)
    assert bare.returncode != 0 and "--api-key is required" in bare.stderr


def test_discovery_needs_an_account_with_a_key(tmp_path: Path) -> None:
    run_cli(
        "provider", "add", "solo", "--format", "openai", "--base-url", "http://127.0.0.1:9/v1",
        "--pass-through", data_dir=tmp_path,
    )  # fmt: skip
    found = run_cli("provider", "discover", "solo", data_dir=tmp_path, check=False)
    assert found.returncode != 0
    assert "no account with a key of its own" in found.stderr
