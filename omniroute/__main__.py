"""Command line: ``omniroute [serve]`` and the headless management commands."""

from __future__ import annotations

import sys

from omniroute.cli import main

if __name__ == "__main__":
    sys.exit(main())
