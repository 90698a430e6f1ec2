"""``stemma serve`` and ``stemma client ...``: the command line of the local server.

    stemma serve --port 0                       # loopback only; writes the discovery file
    stemma client submit song.wav --model classic --start 12 --end 20 --wait
    stemma client download JOB vocals -o vocals.wav

``client`` answers are JSON on stdout. The server's modules (FastAPI, uvicorn) are imported
only by ``serve``, so the client commands need the standard library alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..client import Client, Event, ServerError, ServerUnavailable
from ..errors import EngineError


def cmd_serve(args: argparse.Namespace) -> int:
    from .main import serve

    return serve(args.host, args.port, args.cache_dir, args.cache_max_gb, args.keep_alive,
                 args.cancel_grace, args.max_upload_mb)


def _worker_main() -> int:
    from .worker import main

    return main()


def _params(args: argparse.Namespace) -> dict:
    params = {"model": args.model, "format": args.format, "start": args.start}
    if args.end is not None:
        params["end"] = args.end
    if args.stems:
        params["stems"] = [s.strip() for s in args.stems.split(",") if s.strip()]
    return params


def _show_progress(event: Event) -> None:
    if event.name == "progress" and event.data.get("fraction") is not None:
        print(f"\r{event.data['stage']:12s} {event.data['fraction']:4.0%}", end="",
              file=sys.stderr, flush=True)


def cmd_client(args: argparse.Namespace) -> int:
    try:
        client = Client.discover()
        answer = _call(client, args)
    except (ServerError, ServerUnavailable) as err:
        raise EngineError(str(err)) from None
    print(json.dumps(answer, indent=2))
    state = answer.get("state") if isinstance(answer, dict) else None
    return 1 if state in ("failed", "cancelled") else 0


def _call(client: Client, args: argparse.Namespace):
    action = args.action
    if action == "health":
        return client.health()
    if action == "models":
        return client.models()
    if action == "submit":
        send = client.upload if args.upload else client.submit
        job = send(args.input, **_params(args))
        return client.wait(job["id"], _show_progress) if args.wait else job
    if action == "status":
        return client.status(args.job)
    if action == "cancel":
        return client.cancel(args.job)
    if action == "wait":
        return client.wait(args.job, _show_progress)
    if action == "download":
        stems = [args.stem] if args.stem else list(client.status(args.job)["outputs"])
        out = Path(args.output)
        if args.stem is None:
            out.mkdir(parents=True, exist_ok=True)
        paths = {s: client.download(args.job, s, out / f"{s}.{_suffix(client, args.job, s)}"
                                    if args.stem is None else out) for s in stems}
        return {s: str(p) for s, p in paths.items()}
    raise AssertionError(action)


def _suffix(client: Client, job_id: str, stem: str) -> str:
    return Path(client.status(job_id)["outputs"][stem]["path"]).suffix.lstrip(".")


def add_commands(sub) -> None:
    p = sub.add_parser("serve", help="run the local job server for DAW plugins (loopback)")
    p.add_argument("--host", default="127.0.0.1", help="127.0.0.1 or ::1 (loopback only)")
    p.add_argument("--port", type=int, default=0, help="0: any free port (default)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where finished stems are kept (default: ~/.cache/stemma/server)")
    p.add_argument("--cache-max-gb", type=float, default=10.0, help="cache size cap (LRU)")
    p.add_argument("--max-upload-mb", type=int, default=2048, help="largest upload")
    p.add_argument("--keep-alive", type=float, default=5.0, help=argparse.SUPPRESS)
    p.add_argument("--cancel-grace", type=float, default=3.0, help=argparse.SUPPRESS)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("_server-worker")  # what a frozen bundle runs as a worker process
    p.set_defaults(run=lambda args: _worker_main())

    p = sub.add_parser("client", help="talk to a running `stemma serve` (JSON answers)")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("health")
    actions.add_parser("models")
    s = actions.add_parser("submit", help="separate a file (by path, or --upload)")
    s.add_argument("input", type=Path)
    s.add_argument("--model", default="auto")
    s.add_argument("--stems", help="comma-separated, e.g. vocals,no_vocals")
    s.add_argument("--start", type=float, default=0.0, help="seconds")
    s.add_argument("--end", type=float, default=None, help="seconds")
    s.add_argument("--format", default="wav", choices=("wav", "flac"))
    s.add_argument("--upload", action="store_true", help="send the file's bytes")
    s.add_argument("--wait", action="store_true", help="follow progress until it ends")
    for name in ("status", "cancel", "wait"):
        actions.add_parser(name).add_argument("job")
    d = actions.add_parser("download", help="one stem to a file, or all to a folder")
    d.add_argument("job")
    d.add_argument("stem", nargs="?", help="default: every stem, into the -o folder")
    d.add_argument("-o", "--output", required=True)
    p.set_defaults(run=cmd_client)
    sub.metavar = "{" + ",".join(n for n in sub.choices if not n.startswith("_")) + "}"
