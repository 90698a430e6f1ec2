"""``stemma``: the command line.

    stemma separate song.mp3 other.flac -o stems/     # stems/song/vocals.wav ...
    stemma separate song.mp3 -o out --two-stems vocals --format flac
    stemma karaoke song.mp3 -o song_karaoke.wav
    stemma remix stems/song --gain vocals=-6 --mute drums -o remix.wav
    stemma models
    stemma models add ~/uvr/models/MDX_Net_Models/UVR-MDX-NET-Inst_HQ_3.onnx --name inst-hq
    stemma models remove inst-hq
    stemma serve --port 0                        # the local server for DAW plugins
    stemma client submit song.wav --start 12 --end 20 --wait

Exit codes: 0 all done, 1 some input failed (each failure is one line on stderr naming the file),
2 bad usage (including an unknown model and a device that is not there), 130 cancelled with Ctrl-C,
128 + N when stopped by signal N (143: SIGTERM, 129: SIGHUP); nothing half-written is left.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from . import registry
from .api import CancelToken, Progress, remix_files, stem_files, track_name
from .backends import options as backend_options
from .errors import (
    Cancelled,
    DeviceError,
    EngineError,
    InvalidArgumentError,
    ModelNotFoundError,
)
from .jobs import JobEvent, JobRunner, Request
from .outputs import OutputSpec

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
USAGE_ERRORS = (InvalidArgumentError, ModelNotFoundError, DeviceError)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))
log = logging.getLogger("stemma")
_stopped_by: list[int] = []  # the signals that cancelled this run


def say(message: str) -> None:
    with contextlib.suppress(OSError):  # the terminal is gone (SIGHUP): nobody to tell
        print(message, file=sys.stderr, flush=True)


class _LineFormatter(logging.Formatter):
    """Engine warnings as one line like our own: ``stemma: warning: <file>: <problem>``."""

    def format(self, record: logging.LogRecord) -> str:
        return f"stemma: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def _error(message: object, prog: str = "stemma") -> None:
    say(f"{prog}: error: {' '.join(str(message).split())}")


class ProgressBar:
    """One status line on a terminal; silent when stderr is not a terminal."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and p.stage != "done"):
            return
        self._last = now
        frac = p.fraction or 0.0
        bar = "#" * int(frac * 30)
        eta = f"{p.eta:4.0f}s left" if p.eta is not None and p.stage == "separating" else ""
        sys.stderr.write(f"\r{self.label[:40]:40s} [{bar:30s}] {frac:4.0%} {eta:12s}")
        if p.stage == "done":
            sys.stderr.write("\r" + " " * 96 + "\r")
        sys.stderr.flush()


@contextmanager
def _interruptible(cancel: Callable[[], bool]) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP (the terminal closed) cancels the job cleanly (``cancel()``
    says whether this was the first cancel), removing what
    it had begun to write; a second one stops at once (temporary files are still removed). A
    signal the process was started ignoring (``nohup``) stays ignored."""

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        _stopped_by.append(signum)
        if not cancel():  # already cancelled once
            raise KeyboardInterrupt
        say(f"\nstemma: stopping on {signal.Signals(signum).name} (again to force)...")

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _report_clipping(reports: dict) -> None:
    for report in reports.values():
        if report.n_clipped:
            say(f"stemma: warning: {report.path}: {report.n_clipped} samples clipped at the "
                 f"chosen bit depth (peak {report.peak:.2f}); use --bit-depth 32f to keep them")


def _tell_apart(files: list[Path]) -> list[tuple[str, ...]]:
    """Relative folders for distinct files of one song name: as many parent folders as it
    takes to tell them apart, and the extension (``song (mp3)``) for those in one folder."""
    leaves, parents = [], []
    for path in files:
        twins = sum(other.parent == path.parent for other in files) > 1
        ext = path.suffix.lstrip(".").lower()
        leaves.append(track_name(path) + (f" ({ext})" if twins else ""))
        parents.append(path.parent.parts[1:])  # never the root: OUT stays the top
    for depth in range(max(len(p) for p in parents) + 1):
        keys = [p[max(0, len(p) - depth):] + (leaf,) for p, leaf in zip(parents, leaves,
                                                                         strict=True)]
        if len({tuple(k.casefold() for k in key) for key in keys}) == len(keys):
            break
    return keys


def _output_dirs(inputs: list[str], root: Path) -> list[Path | None]:
    """Where each input's stems go: ROOT/<song>, or for songs that share a name ROOT/<parent>
    /<song> (see ``_tell_apart``), which the console is told. An input given twice is
    separated once (None the second time)."""
    out: list[Path | None] = [root / track_name(p) for p in inputs]
    groups: dict[str, list[int]] = {}
    for i, path in enumerate(inputs):
        groups.setdefault(track_name(path).casefold(), []).append(i)
    for members in groups.values():
        unique: dict[Path, int] = {}
        for i in members:
            full = Path(os.path.abspath(inputs[i]))
            if full in unique:
                out[i] = None
            else:
                unique[full] = i
        if len(unique) < 2:
            continue
        for i, key in zip(unique.values(), _tell_apart(list(unique)), strict=True):
            out[i] = root.joinpath(*key)
        say(f"stemma: note: {len(unique)} inputs are named '{track_name(inputs[members[0]])}';"
             f" their stems go to {', '.join(str(out[i]) for i in unique.values())}")
    return out


def _raw_options(args: argparse.Namespace) -> dict:
    """``--raw``: the model's output without refinement, which only a generative model has."""
    if not getattr(args, "raw", False):
        return {}
    info = registry.resolve(args.model)
    if not backend_options.accepts(info.backend, "refine"):
        raise InvalidArgumentError(f"--raw does not apply to the model '{info.name}' (backend "
                                   f"{info.backend}): only a generative model such as tokenlm "
                                   "has a raw output")
    return {"refine": False}


def _user_options(args: argparse.Namespace) -> dict:
    """``--option KEY=VALUE`` (repeatable): the model's settings, checked against what its
    backend takes before any work starts, so a typo is a usage error, not a failed job."""
    options = {}
    for item in args.option or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgumentError(f"--option {item!r}: give KEY=VALUE, e.g. wiener=true")
        options[key.strip()] = value.strip()
    if options:
        backend_options.for_model(registry.resolve(args.model), options)
    return options


def _request(args: argparse.Namespace, path: str | Path, out, stems=None,
             spec: OutputSpec | None = None) -> Request:
    options = {**_user_options(args), **_raw_options(args)}
    return Request(path, out, args.model, args.device, stems=stems, options=options,
                   spec=spec or OutputSpec(), threads=args.threads,
                   chunk_seconds=args.chunk_seconds)


class _JobProgress:
    """The job service's events as the terminal's progress bar."""

    def __init__(self, label: str, enabled: bool):
        self.bar = ProgressBar(label, enabled)

    def __call__(self, event: JobEvent) -> None:
        if event.progress is not None:
            self.bar(event.progress)


def cmd_separate(args: argparse.Namespace) -> int:
    if args.stems and args.two_stems:
        raise InvalidArgumentError("use --stems or --two-stems, not both")
    stems = None
    if args.stems:
        stems = tuple(s.strip() for s in args.stems.split(",") if s.strip())
    elif args.two_stems:
        stems = (args.two_stems, f"no_{args.two_stems}")
    spec = OutputSpec(args.format, args.bit_depth, args.overwrite)
    runner = JobRunner()
    first = _request(args, args.inputs[0], args.output, stems, spec)
    separator = runner.prepare(first)  # the model loads and the stems are checked, once
    if not args.quiet:
        say(f"stemma: model {separator.model.name} on {separator.placement}")
    failed = 0
    with _interruptible(runner.cancel_all):
        for path, out_dir in zip(args.inputs, _output_dirs(args.inputs, args.output),
                                 strict=True):
            if out_dir is None:
                say(f"stemma: note: {path} is given twice; it is separated once")
                continue
            try:
                result = runner.run(replace(first, input=Path(path), output=out_dir),
                                    _JobProgress(Path(path).name, not args.quiet))
            except Cancelled:
                raise
            except EngineError as err:
                _error(err)
                failed += 1
                continue
            names = ", ".join(r.path.name for r in result.outputs.values())
            print(f"{path} -> {out_dir}/ ({names}) in {result.seconds:.1f} s, "
                  f"{result.speed:.1f}x real time", flush=True)
            _report_clipping(result.outputs)
    runner.close()
    return EXIT_FAILED if failed else EXIT_OK


def cmd_karaoke(args: argparse.Namespace) -> int:
    spec = OutputSpec.for_file(args.output, args.bit_depth, args.overwrite)
    runner = JobRunner()
    request = _request(args, args.input, {"no_vocals": args.output}, spec=spec)
    runner.prepare(request)
    with _interruptible(runner.cancel_all):
        result = runner.run(request, _JobProgress(Path(args.input).name, not args.quiet))
    runner.close()
    print(f"{args.input} -> {args.output} (instrumental) in {result.seconds:.1f} s", flush=True)
    _report_clipping(result.outputs)
    return EXIT_OK


def _cancel_once(token: CancelToken) -> bool:
    first = not token.cancelled
    token.cancel()
    return first


def _parse_gain(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        db = float(value)
        if not sep or not math.isfinite(db):
            raise ValueError
        return name.strip(), db
    except ValueError:
        raise InvalidArgumentError(f"--gain takes STEM=DB with a finite number of dB, like "
                                   f"vocals=-6 (--mute STEM silences one); got '{text}'") from None


def cmd_remix(args: argparse.Namespace) -> int:
    paths = stem_files(args.stem_dir)
    gains = {}
    for text in args.gain or []:
        name, db = _parse_gain(text)
        gains[name] = 10 ** (db / 20)
    for name in args.mute or []:
        gains[name] = 0.0
    spec = OutputSpec.for_file(args.output, args.bit_depth, args.overwrite)
    token = CancelToken()
    with _interruptible(lambda: _cancel_once(token)):
        report = remix_files(paths, gains, args.output, spec, cancel=token)
    print(f"{args.stem_dir} -> {args.output} ({', '.join(paths)})", flush=True)
    _report_clipping({"mix": report})
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    found = registry.list_models()
    auto = registry.best_model(found).name if found else None
    if args.json:
        print(json.dumps([{"name": m.name, "backend": m.backend, "stems": m.stems,
                           "sample_rate": m.sample_rate, "devices": m.devices,
                           "metrics": m.metrics, "folder": str(m.folder),
                           "provenance": m.provenance, "auto": m.name == auto}
                          for m in found], indent=2))
        return EXIT_OK
    print(f"{'name':14s} {'stems':28s} {'rate':>7s} {'devices':10s} {'uSDR':>6s}  description")
    for m in found:
        usdr = m.metrics.get(registry.RANKING_METRIC)
        print(f"{m.name + (' *' if m.name == auto else ''):14s} {','.join(m.stems):28s} "
              f"{m.sample_rate or 'any':>7} {','.join(m.devices):10s} "
              f"{'-' if usdr is None else f'{usdr:.2f}':>6s}  {m.description}")
    print("\n* the model 'auto' picks (best measured uSDR on held-out songs)")
    _print_added()
    codecs = registry.list_codecs()
    if codecs:
        print("\nneural audio codecs (parts of token separators; `stemma-lab codec list`): "
              + ", ".join(c.name for c in codecs))
    return EXIT_OK


def _print_added() -> None:
    from .importing import added_models

    added = added_models()
    if not added:
        return
    print(f"\nadded with `stemma models add` (in {registry.user_models_dir()} or "
          "STEMMA_MODELS_DIR):")
    for m in added:
        p = m.provenance
        where = "copied" if p.get("copied") else "referenced in place"
        print(f"  {m.name}: {p.get('architecture', m.backend)}, added {p.get('added', '?')} "
              f"from {p.get('source', '?')} ({where})")


def cmd_models_add(args: argparse.Namespace) -> int:
    from .importing import ImportSettings, add_model

    settings = ImportSettings(config=args.config, stem=args.stem, n_fft=args.n_fft,
                              dim_f=args.dim_f, dim_t=args.dim_t, hop=args.hop,
                              compensate=args.compensate, model_data=args.model_data)
    info = add_model(args.path, args.name, settings, copy=args.copy)
    print(f"added {info.name}: {info.provenance['architecture']}, stems "
          f"{', '.join(info.stems)}, {info.sample_rate} Hz ({info.folder})")
    return EXIT_OK


def cmd_models_remove(args: argparse.Namespace) -> int:
    from .importing import remove_model

    info = remove_model(args.name)
    source = info.provenance.get("source")
    kept = "" if info.provenance.get("copied") else f"; its weights stay at {source}"
    print(f"removed {info.name}{kept}")
    return EXIT_OK


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="auto", help="model name or folder (default: auto)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="a model setting, repeatable: e.g. wiener=true (bandsplit), samples=1 "
                   "(tokenlm); `stemma models` names the models")
    p.add_argument("--threads", type=int, default=None, help="chunks separated at once")
    p.add_argument("--chunk-seconds", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--bit-depth", choices=("16", "24", "32f"),
                   help="default: 32f for WAV, 24 for FLAC")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stemma", description="Separate songs into stems.")
    parser.add_argument("--version", action="version", version="stemma 0.1.0")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("separate", help="split songs into stems")
    p.add_argument("inputs", nargs="+", help="audio files")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="folder; stems go to OUTPUT/<song name>/<stem>.<format>")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--stems", help="comma-separated stems to write, e.g. vocals,drums")
    group.add_argument("--two-stems", metavar="STEM", help="STEM and no_STEM (the rest)")
    p.add_argument("--format", default="wav", choices=("wav", "flac"))
    p.add_argument("--raw", action="store_true",
                   help="tokenlm: the generated stems as they are (mono, not aligned, not "
                   "summing to the mix), without the Wiener refinement")
    _model_options(p)
    p.set_defaults(run=cmd_separate)

    p = sub.add_parser("karaoke", help="write the instrumental (everything but vocals)")
    p.add_argument("input")
    p.add_argument("-o", "--output", type=Path, required=True, help=".wav or .flac file")
    _model_options(p)
    p.set_defaults(run=cmd_karaoke)

    p = sub.add_parser("remix", help="mix a folder of stems with new levels")
    p.add_argument("stem_dir", type=Path)
    p.add_argument("--gain", action="append", metavar="STEM=DB", help="e.g. vocals=-6")
    p.add_argument("--mute", action="append", metavar="STEM")
    p.add_argument("-o", "--output", type=Path, required=True, help=".wav or .flac file")
    p.add_argument("--bit-depth", choices=("16", "24", "32f"))
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_remix)

    p = sub.add_parser("models", help="list installed models; add or remove your own")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_models)
    _models_actions(p.add_subparsers(dest="action"))
    from .server.commands import add_commands  # serve, client: the local server's commands

    add_commands(sub)
    return parser


def _models_actions(sub) -> None:
    p = sub.add_parser("add", help="register another project's weights: a Demucs .th or bag "
                       ".yaml, an MDX-Net .onnx, a BS/Mel-RoFormer checkpoint with its YAML")
    p.add_argument("path", type=Path, help="the checkpoint file (or a folder holding one)")
    p.add_argument("--name", help="model name (default: the file's name)")
    p.add_argument("--copy", action="store_true", help="copy the weights into Stemma's model "
                   "folder (default: use them where they are, checked by sha256)")
    p.add_argument("--config", type=Path, help="RoFormer: its YAML config (default: the "
                   "checkpoint's name with .yaml, beside it)")
    p.add_argument("--model-data", type=Path, help="UVR's model_data.json, for MDX-Net "
                   "settings (default: model_data/ beside the file, as UVR keeps it)")
    p.add_argument("--stem", help="MDX-Net: the stem the model extracts (UVR: primary stem)")
    p.add_argument("--n-fft", type=int, help="MDX-Net: STFT size")
    p.add_argument("--dim-f", type=int, help="MDX-Net: frequency bins (default: the graph's)")
    p.add_argument("--dim-t", type=int, help="MDX-Net: frames per window (default: the "
                   "graph's; UVR's dim_t 8 means 256)")
    p.add_argument("--hop", type=int, help="MDX-Net: STFT hop (default 1024)")
    p.add_argument("--compensate", type=float, help="MDX-Net: output gain (default 1.0)")
    p.set_defaults(run=cmd_models_add)
    p = sub.add_parser("remove", help="remove an added model (referenced weights stay)")
    p.add_argument("name")
    p.set_defaults(run=cmd_models_remove)


def run(parser: argparse.ArgumentParser, argv: list[str] | None, prog: str = "stemma") -> int:
    """Parse, set up logging, run the chosen command and turn errors into exit codes."""
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(_LineFormatter())
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        handlers=[handler])
    command: Callable[[argparse.Namespace], int] = args.run
    _stopped_by.clear()
    try:
        return command(args)
    except Cancelled:
        say(f"{prog}: cancelled; no partial files were left")
        return 128 + _stopped_by[0] if _stopped_by else EXIT_CANCELLED
    except KeyboardInterrupt:
        say(f"{prog}: interrupted; no partial files were left")
        return 128 + _stopped_by[0] if _stopped_by else EXIT_CANCELLED
    except USAGE_ERRORS as err:
        _error(err, prog)
        return EXIT_USAGE
    except EngineError as err:
        _error(err, prog)
        return EXIT_FAILED
    except BrokenPipeError:  # the reader went away (`stemma models | head -1`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 128 + signal.SIGPIPE


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
