"""``omniroute doctor [--json]``: checks a data dir (permissions, key,
database integrity, port, configuration) and prints one line per check.
Exit status 1 when any check fails, 0 otherwise (warnings included)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from omniroute.cli.common import command, port_number
from omniroute.settings import Settings


def register(sub: Any) -> None:
    doctor = command(sub, "doctor", "check the data dir, key, database and port", cmd_doctor)
    doctor.add_argument("--json", action="store_true", help="the findings as JSON")
    doctor.add_argument(
        "--host",
        default=argparse.SUPPRESS,
        help="the address the gateway binds (default 127.0.0.1)",
    )
    doctor.add_argument(
        "--port", type=port_number, default=argparse.SUPPRESS, help="the port it listens on"
    )


async def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from omniroute.config.doctor import examine, failed

    findings = examine(settings)
    if args.json:
        report = {"ok": not failed(findings), "checks": [f.to_json() for f in findings]}
        print(json.dumps(report, indent=2))
    else:
        for f in findings:
            print(f"{f.status:<4}  {f.check:<11}  {f.message}")
    return 1 if failed(findings) else 0
