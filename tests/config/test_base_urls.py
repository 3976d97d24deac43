"""A provider's base URL may name loopback and private hosts (local model
servers), but a link-local address or a cloud metadata host only after the
owner allowed it; through the editor, as the CLI and the management API use it."""

from __future__ import annotations

import pytest

from omniroute.config.editor import ConfigEditor
from omniroute.errors import BadRequest
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.upstream.ssrf import metadata_problem

pytestmark = pytest.mark.anyio

METADATA = [
    "http://169.254.169.254/latest",
    "http://169.254.43518/",  # the same address, spelled a.b.c
    "http://2852039166/",  # and as one number
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]:8080/v1",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://metadata.google.internal./",
    "https://instance-data/",
]
LOCAL = [
    "http://127.0.0.1:11434/v1",
    "http://localhost:8080/v1",
    "http://192.168.1.20:1234/v1",
    "http://10.0.0.5/v1",
    "http://[::1]:8000/v1",
    "https://api.openai.com/v1",
    "http://ollama.internal:11434",
]


@pytest.mark.parametrize("url", METADATA)
def test_metadata_hosts_are_recognised(url: str) -> None:
    assert metadata_problem(url) is not None


@pytest.mark.parametrize("url", LOCAL)
def test_local_and_public_hosts_pass(url: str) -> None:
    assert metadata_problem(url) is None


@pytest.mark.parametrize("url", METADATA)
async def test_a_metadata_base_url_is_refused_until_allowed(settings: Settings, url: str) -> None:
    async with Store(settings) as store:
        editor = ConfigEditor(store)
        with pytest.raises(BadRequest, match="allow-link-local-base-urls"):
            await editor.add_account("meta", "sk-meta-000000001", provider=("openai", url, ["m"]))
        assert (await store.snapshot()).providers == ()
        await editor.set_setting("allow_link_local_base_urls", "on")
        provider, _ = await editor.add_account(
            "meta", "sk-meta-000000001", provider=("openai", url, ["m"])
        )
        assert provider.base_url == url


async def test_changing_a_base_url_to_a_metadata_host_is_refused(settings: Settings) -> None:
    async with Store(settings) as store:
        editor = ConfigEditor(store)
        for i, url in enumerate(LOCAL):
            await editor.add_account("local", f"sk-local-{i:08}", provider=("openai", url, ["m"]))
        with pytest.raises(BadRequest, match="metadata"):
            await editor.update_provider("local", base_url="http://169.254.169.254/")
        assert (await store.snapshot()).providers[0].base_url == LOCAL[-1]
        await editor.set_setting("allow_link_local_base_urls", True)
        await editor.update_provider("local", base_url="http://169.254.169.254/")


async def test_the_allowance_is_a_flag(settings: Settings) -> None:
    async with Store(settings) as store:
        with pytest.raises(BadRequest, match="on or off"):
            await ConfigEditor(store).set_setting("allow_link_local_base_urls", "maybe")
