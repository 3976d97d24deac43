"""The configuration above the store: typed runtime options with their
checks, the routing's view of the stored configuration, and the one place
that changes it (``ConfigEditor``), used by the CLI and the management API.
"""

from __future__ import annotations

from omniroute.config.editor import ConfigEditor
from omniroute.config.options import Options, ProviderOptions, egress_proxy

__all__ = ["ConfigEditor", "Options", "ProviderOptions", "egress_proxy"]
