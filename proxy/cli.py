"""``sluice``: serve, validate, routes (CONTRACT.md section 1). The only place that exits."""

from __future__ import annotations

import argparse
import os
import sys

from proxy.config.loader import format_problems, load_config
from proxy.config.model import HostPort
from proxy.errors import ConfigError


def _host_port(text: str) -> HostPort:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT, port 0..65535")
    return HostPort(host or "127.0.0.1", int(port))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("config")
    serve.add_argument("--listen", type=_host_port)
    serve.add_argument("--admin-listen", type=_host_port)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--storage")
    serve.add_argument("--log-level", default=os.environ.get("SLUICE_LOG_LEVEL", "INFO"))
    serve.add_argument("--log-format", choices=("text", "json"),
                       default=os.environ.get("SLUICE_LOG_FORMAT", "text"))
    validate = sub.add_parser("validate", help="check a config file and its definitions")
    validate.add_argument("config")
    routes = sub.add_parser("routes", help="print the compiled route table")
    routes.add_argument("config")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from proxy.logs import setup_logging
        from proxy.server import Overrides, run

        if args.workers is not None and args.workers < 1:
            print("sluice: --workers must be >= 1", file=sys.stderr)
            return 2
        setup_logging(args.log_level, args.log_format)
        return run(args.config, Overrides(args.listen, args.admin_listen, args.workers,
                                          args.storage))
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(format_problems(err), file=sys.stderr)
        return 1
    if args.command == "validate":
        methods = sum(len(r.methods) for a in config.apis for r in a.definition.resources)
        stages = sum(len(a.stages) for a in config.apis)
        print(f"{args.config}: ok: {len(config.apis)} API(s), {stages} stage(s), "
              f"{methods} method(s), {len(config.usage_plans)} usage plan(s), "
              f"{len(config.api_keys)} API key(s)")
        return 0
    from proxy.deployment import compile_deployment
    from proxy.runtime import offline_services

    deployment = compile_deployment(config, offline_services())
    rows = [("STAGE", "METHOD", "RESOURCE", "INTEGRATION", "TIMEOUT"),
            *deployment.describe_routes()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[4])
    return 0


if __name__ == "__main__":
    sys.exit(main())
