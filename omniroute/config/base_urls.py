"""The rule for a provider's base URL that depends on the settings: it may
name loopback and private hosts (local model servers are a feature), but a
link-local address or a cloud metadata host only once the owner has said so
with ``allow-link-local-base-urls``. Applied wherever a base URL is written:
the editor (CLI and management API) and an import."""

from __future__ import annotations

from omniroute.config.options import Options
from omniroute.errors import BadRequest
from omniroute.store import Store
from omniroute.upstream.ssrf import metadata_problem


def base_url_rule(url: str, options: Options) -> None:
    """BadRequest when ``url`` points where it needs an allowance it lacks."""
    problem = metadata_problem(url)
    if problem is not None and not options.allow_link_local_base_urls:
        raise BadRequest(
            f"base_url points to {problem}, where cloud metadata services answer; "
            "if that is really meant, allow it first with "
            "`omniroute config set allow-link-local-base-urls on`"
        )


async def check_base_url(store: Store, url: str | None) -> None:
    """``base_url_rule`` under the stored settings (nothing to do for None)."""
    if url is None or metadata_problem(url) is None:
        return
    base_url_rule(url, Options.read((await store.snapshot()).settings))
