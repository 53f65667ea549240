"""``sluice``: serve, validate, routes, invoke (CONTRACT.md sections 1 and 7). The only place
that exits."""

from __future__ import annotations

import argparse
import json
import os
import sys

from proxy.config.loader import format_problems, load_config
from proxy.config.model import Config, HostPort
from proxy.errors import ConfigError


def _host_port(text: str) -> HostPort:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT, port 0..65535")
    return HostPort(host or "127.0.0.1", int(port))


def _overrides_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE",
                        help="template parameter values (also ParameterKey=K,ParameterValue=V "
                             "as sam takes them, and AWS::Region, AWS::AccountId, "
                             "AWS::StackName)")


def _set_overrides(items: list[str]) -> str | None:
    """Hand ``--parameter-overrides`` to every load of the config (workers and reloads
    included) through the environment; an error message for a malformed item."""
    from proxy.templates import PARAMETER_OVERRIDES_ENV, parse_overrides

    values, bad = parse_overrides(items)
    if bad:
        return f"sluice: --parameter-overrides: expected KEY=VALUE, got {bad[0]!r}"
    if values:
        os.environ[PARAMETER_OVERRIDES_ENV] = json.dumps(values)
    return None


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
    invoke = sub.add_parser("invoke", help="run one invocation of a function, print its result")
    invoke.add_argument("config")
    invoke.add_argument("function")
    invoke.add_argument("--event", help="a file with the event as JSON (- for stdin; "
                                        "default {})")
    invoke.add_argument("--log-level", default=os.environ.get("SLUICE_LOG_LEVEL", "INFO"))
    for command in (serve, validate, routes, invoke):
        _overrides_flag(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    problem = _set_overrides(getattr(args, "parameter_overrides", []))
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
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
    if args.command == "invoke":
        return _invoke(config, args.function, args.event, args.log_level)
    if args.command == "validate":
        methods = sum(len(r.methods) for a in config.apis for r in a.definition.resources)
        stages = sum(len(a.stages) for a in config.apis)
        print(f"{args.config}: ok: {len(config.apis)} API(s), {stages} stage(s), "
              f"{methods} method(s), {len(config.usage_plans)} usage plan(s), "
              f"{len(config.api_keys)} API key(s), {len(config.functions)} function(s)")
        return 0
    from proxy.deployment import compile_deployment
    from proxy.runtime import offline_services

    services = offline_services(config)
    deployment = compile_deployment(config, services)
    rows = [("STAGE", "METHOD", "RESOURCE", "INTEGRATION", "TIMEOUT"),
            *deployment.describe_routes()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[4])
    assert services.functions is not None
    functions = [("FUNCTION", "RUNS"), *services.functions.describe()]
    if len(functions) > 1:
        print()
        width = max(len(name) for name, _ in functions)
        for name, how in functions:
            print(f"{name.ljust(width)}  {how}")
    return 0


def _invoke(config: Config, name: str, event_file: str | None, log_level: str) -> int:
    """``sluice invoke``: the result (or error) as JSON on stdout, the function's log on
    stderr; exit 0 when the function succeeded, 1 when it failed or could not run."""
    import asyncio

    from proxy.functions import FunctionError, Functions
    from proxy.functions.instance import INIT_TIMEOUT_S
    from proxy.logs import setup_logging
    from proxy.upstream import PoolUpstream

    if name not in config.functions:
        known = ", ".join(sorted(config.functions)) or "none"
        print(f"sluice: no function {name!r} in {config.source} (functions: {known})",
              file=sys.stderr)
        return 2
    try:
        if event_file is None:
            payload = b"{}"
        elif event_file == "-":
            payload = sys.stdin.buffer.read()
        else:
            with open(event_file, "rb") as f:
                payload = f.read()
        json.loads(payload)
    except (OSError, ValueError) as e:
        print(f"sluice: --event {event_file}: {e}", file=sys.stderr)
        return 2
    setup_logging(log_level, "text")

    async def run() -> int:
        upstream = PoolUpstream()
        functions = Functions(config.functions, upstream=upstream, aws=config.aws)
        fn = functions.get(name)
        assert fn is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + fn.config.timeout_s + INIT_TIMEOUT_S
        try:
            result = await fn.invoke(payload, deadline=deadline)
        except FunctionError as e:
            print(json.dumps({"functionName": name, "error": str(e)}, indent=2))
            return 1
        finally:
            await functions.aclose()
            await upstream.aclose()
        try:
            body: object = json.loads(result.payload)
        except ValueError:
            body = result.payload.decode("utf-8", "replace")
        print(json.dumps({
            "functionName": name, "requestId": result.request_id,
            "functionError": result.function_error, "coldStart": result.cold_start,
            "durationMs": round(result.duration_ms, 2),
            "initDurationMs": None if result.init_duration_ms is None
            else round(result.init_duration_ms, 2),
            "payload": body}, indent=2, ensure_ascii=False))
        return 0 if result.function_error is None else 1

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
