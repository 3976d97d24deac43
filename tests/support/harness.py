"""Run the real gateway in-process on 127.0.0.1:0 for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from omniroute.app import Gateway
from omniroute.config.editor import ConfigEditor
from omniroute.providers.catalog import Catalog
from omniroute.settings import Settings

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class Harness:
    """A started Gateway plus helpers to configure it the way a user would."""

    def __init__(self, gateway: Gateway, client_key: str) -> None:
        self.gateway = gateway
        self.client_key = client_key
        self._clients: list[Any] = []

    def track(self, client: T) -> T:
        """Close this SDK client when the gateway stops (SDK clients left to
        the garbage collector would close after the event loop is gone)."""
        self._clients.append(client)
        return client

    async def close_clients(self) -> None:
        for client in self._clients:
            close = getattr(client, "close", None) or getattr(client, "aclose", None)
            if close is not None:
                result = close()
                if hasattr(result, "__await__"):
                    await result
        self._clients.clear()

    @property
    def base_url(self) -> str:
        assert self.gateway.address is not None
        host, port = self.gateway.address
        return f"http://{host}:{port}"

    @property
    def admin_url(self) -> str:
        """Where the dashboard and /api answer: the admin port, if any."""
        address = self.gateway.admin_address or self.gateway.address
        assert address is not None
        return f"http://{address[0]}:{address[1]}"

    @property
    def settings(self) -> Settings:
        return self.gateway.settings

    @property
    def config(self) -> ConfigEditor:
        """Configuration changes, checked the way the CLI checks them."""
        return ConfigEditor(self.gateway.store, self.gateway.catalog)

    async def add_provider(
        self, name: str, fmt: str, base_url: str, api_key: str, models: Sequence[str] = ()
    ) -> None:
        store = self.gateway.store
        provider = await store.upsert_provider(name, fmt, base_url, list(models) or None)
        await store.add_account(provider.id, api_key)
        await self.reload()

    async def reload(self) -> None:
        await self.gateway._watcher.load()


@contextlib.asynccontextmanager
async def running_gateway(
    tmp_path: Path,
    *,
    clock: Callable[[], float] | None = None,
    catalog: Catalog | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    settings = Settings.load(
        {
            "host": "127.0.0.1",
            "port": 0,
            "data_dir": tmp_path / "data",
            "config_poll_interval": 0.1,
            "shutdown_grace": 2.0,
            **overrides,
        },
        env={},
    )
    gateway = Gateway(settings, clock=clock or time.time, catalog=catalog)
    await gateway.start()
    harness: Harness | None = None
    try:
        _, key = await gateway.store.create_client_key("tests")
        await gateway._watcher.load()
        harness = Harness(gateway, key)
        yield harness
    finally:
        if harness is not None:
            await harness.close_clients()
        await gateway.stop()


def run_cli(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real ``omniroute`` command in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    return subprocess.run(
        [sys.executable, "-m", "omniroute", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
        env=env,
        cwd=REPO,
    )
