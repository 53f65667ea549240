"""`make run`: start the example backend, then the gateway on the example config, in the
foreground; Ctrl-C, SIGTERM or SIGHUP stops both (and the gateway stops its functions)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", nargs="?", default=str(HERE / "sluice.yaml"))
    parser.add_argument("--backend-port", type=int, default=9001,
                        help="the example backend's port (the example config names 9001)")
    args = parser.parse_args()
    config = args.config
    # Ctrl-C, and a plain kill, reach only this process when it is not run from a terminal
    # (a background job even starts with SIGINT ignored): stop the children either way
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    backend = subprocess.Popen([sys.executable, str(HERE / "backend.py"),
                                "--port", str(args.backend_port)])
    try:
        time.sleep(0.5)
        return _serve(config)
    finally:
        backend.terminate()
        backend.wait()


def _serve(config: str) -> int:
    if Path(config).resolve() != HERE / "sluice.yaml":
        hint = HERE / "sam" / "README.md" if "sam" in Path(config).parts else None
        print(f"\nSluice on {config}" + (f": see {hint} for what to curl" if hint else ""),
              flush=True)
    else:
        print("""
Sluice example: gateway on http://127.0.0.1:8080 (stage 'prod'), admin on http://127.0.0.1:8081
Try:
  curl -i http://127.0.0.1:8080/prod/pets                  # HTTP_PROXY, cached 60 s
  curl -i http://127.0.0.1:8080/prod/pets/1                # path parameter mapping
  curl -i http://127.0.0.1:8080/prod/health                # MOCK
  curl -i http://127.0.0.1:8080/prod/orders                # 403: needs an API key
  curl -i -H 'x-api-key: alice-0123456789abcdefghij' http://127.0.0.1:8080/prod/orders
  curl -i http://127.0.0.1:8080/prod/anything/else         # {proxy+} to the backend
  curl -i http://127.0.0.1:8080/prod/lambda/pets           # AWS_PROXY: a local Python function
  curl -i -X POST -d '{"type":"cat","price":9.5}' http://127.0.0.1:8080/prod/lambda/pets
  curl -i http://127.0.0.1:8080/prod/lambda/fails          # 502: the function raised
  curl -i 'http://127.0.0.1:8080/prod/lambda/slow?seconds=5'  # 502: past its 3 s timeout
  curl -i http://127.0.0.1:8080/prod/lambda/me             # 401: the TOKEN authorizer wants a token
  curl -i -H 'Authorization: Bearer allow-alice' http://127.0.0.1:8080/prod/lambda/me
  curl -i -H 'Authorization: Bearer deny' http://127.0.0.1:8080/prod/lambda/me   # 403
  curl -i 'http://127.0.0.1:8080/prod/templated/pets?type=dog'  # HTTP with VTL templates
  curl -i -H 'Content-Type: application/json' -d '{"kind":"cat","price":5}' \\
       http://127.0.0.1:8080/prod/templated/pets          # request template -> backend -> 201
  curl -i -H 'Content-Type: application/json' -d '{"type":"bird"}' \\
       http://127.0.0.1:8080/prod/validated/pets          # 400: header, then body model
  curl -i -H 'x-client: me' -H 'Content-Type: application/json' \\
       -d '{"type":"cat","price":3}' http://127.0.0.1:8080/prod/validated/pets
  curl -i -X OPTIONS -H 'Origin: http://localhost:3000' \\
       -H 'Access-Control-Request-Method: POST' http://127.0.0.1:8080/prod/pets  # CORS
  curl -s --compressed -D- -o /dev/null http://127.0.0.1:8080/prod/anything/$(printf 'x%.0s' {1..1100})
  curl -s http://127.0.0.1:8081/metrics | grep sluice_requests_total
""", flush=True)
    gateway = subprocess.Popen([sys.executable, "-m", "proxy", "serve", config])
    try:
        return gateway.wait()
    except KeyboardInterrupt:
        gateway.send_signal(signal.SIGTERM)
        return gateway.wait()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # stopped before the gateway started: the backend is stopped
        sys.exit(130)
