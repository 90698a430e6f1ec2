"""``stemma``: the command line.

    stemma separate song.mp3 other.flac -o stems/     # stems/song/vocals.wav ...
    stemma separate song.mp3 -o out --two-stems vocals --format flac
    stemma karaoke song.mp3 -o song_karaoke.wav
    stemma remix stems/song --gain vocals=-6 --mute drums -o remix.wav
    stemma models
    stemma models add ~/uvr/models/MDX_Net_Models/UVR-MDX-NET-Inst_HQ_3.onnx --name inst-hq
    stemma models remove inst-hq

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
from pathlib import Path

from . import api, models
from .api import CancelToken, Progress, Separator, remix_files, stem_files, track_name
from .errors import (
    Cancelled,
    DeviceError,
    EngineError,
    InvalidArgumentError,
    ModelNotFoundError,
    OutputExistsError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
USAGE_ERRORS = (InvalidArgumentError, ModelNotFoundError, DeviceError)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))
DEFAULT_DEPTH = {"wav": "32f", "flac": "24"}
log = logging.getLogger("stemma")
_stopped_by: list[int] = []  # the signals that cancelled this run


def _say(message: str) -> None:
    with contextlib.suppress(OSError):  # the terminal is gone (SIGHUP): nobody to tell
        print(message, file=sys.stderr, flush=True)


class _LineFormatter(logging.Formatter):
    """Engine warnings as one line like our own: ``stemma: warning: <file>: <problem>``."""

    def format(self, record: logging.LogRecord) -> str:
        return f"stemma: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def _error(message: object) -> None:
    _say(f"stemma: error: {' '.join(str(message).split())}")


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
def _interruptible(token: CancelToken) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP (the terminal closed) cancels the job cleanly, removing what
    it had begun to write; a second one stops at once (temporary files are still removed). A
    signal the process was started ignoring (``nohup``) stays ignored."""

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        _stopped_by.append(signum)
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()
        _say(f"\nstemma: stopping on {signal.Signals(signum).name} (again to force)...")

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _depth(fmt: str, bit_depth: str | None) -> str:
    return bit_depth or DEFAULT_DEPTH.get(fmt, "32f")


def _format_of(path: Path, fmt: str | None) -> str:
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt not in DEFAULT_DEPTH:
        raise InvalidArgumentError(f"cannot tell the output format from '{path.name}'; "
                                   "use a .wav or .flac name")
    return fmt


def _report_clipping(reports: dict) -> None:
    for report in reports.values():
        if report.n_clipped:
            _say(f"stemma: warning: {report.path}: {report.n_clipped} samples clipped at the "
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
        _say(f"stemma: note: {len(unique)} inputs are named '{track_name(inputs[members[0]])}';"
             f" their stems go to {', '.join(str(out[i]) for i in unique.values())}")
    return out


def _separator(args: argparse.Namespace) -> Separator:
    options = {"refine": False} if getattr(args, "raw", False) else None
    return Separator(args.model, device=args.device, threads=args.threads,
                     chunk_seconds=args.chunk_seconds, options=options)


def cmd_separate(args: argparse.Namespace) -> int:
    if args.stems and args.two_stems:
        raise InvalidArgumentError("use --stems or --two-stems, not both")
    stems = None
    if args.stems:
        stems = [s.strip() for s in args.stems.split(",") if s.strip()]
    elif args.two_stems:
        stems = [args.two_stems, f"no_{args.two_stems}"]
    bit_depth = _depth(args.format, args.bit_depth)
    api.audio_io.output_subtype(args.format, bit_depth)
    separator = _separator(args)
    api.output_names(separator.stems, stems)  # validate before touching any input
    if not args.quiet:
        _say(f"stemma: model {separator.model.name} on {separator.placement}")
    token = CancelToken()
    failed = 0
    with _interruptible(token):
        for path, out_dir in zip(args.inputs, _output_dirs(args.inputs, args.output),
                                 strict=True):
            if out_dir is None:
                _say(f"stemma: note: {path} is given twice; it is separated once")
                continue
            try:
                result = separator.separate_file(
                    path, out_dir, stems=stems, fmt=args.format, bit_depth=bit_depth,
                    overwrite=args.overwrite, cancel=token,
                    on_progress=ProgressBar(Path(path).name, not args.quiet))
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
    return EXIT_FAILED if failed else EXIT_OK


def cmd_karaoke(args: argparse.Namespace) -> int:
    fmt = _format_of(args.output, None)
    separator = _separator(args)
    token = CancelToken()
    with _interruptible(token):
        result = separator.separate_file(
            args.input, {"no_vocals": args.output}, fmt=fmt,
            bit_depth=_depth(fmt, args.bit_depth), overwrite=args.overwrite, cancel=token,
            on_progress=ProgressBar(Path(args.input).name, not args.quiet))
    print(f"{args.input} -> {args.output} (instrumental) in {result.seconds:.1f} s", flush=True)
    _report_clipping(result.outputs)
    return EXIT_OK


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
    fmt = _format_of(args.output, None)
    token = CancelToken()
    with _interruptible(token):
        report = remix_files(paths, gains, args.output, fmt, _depth(fmt, args.bit_depth),
                             args.overwrite, cancel=token)
    print(f"{args.stem_dir} -> {args.output} ({', '.join(paths)})", flush=True)
    _report_clipping({"mix": report})
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    found = models.list_models()
    auto = models.best_model(found).name if found else None
    if args.json:
        print(json.dumps([{"name": m.name, "backend": m.backend, "stems": m.stems,
                           "sample_rate": m.sample_rate, "devices": m.devices,
                           "metrics": m.metrics, "folder": str(m.folder),
                           "provenance": m.provenance, "auto": m.name == auto}
                          for m in found], indent=2))
        return EXIT_OK
    print(f"{'name':14s} {'stems':28s} {'rate':>7s} {'devices':10s} {'uSDR':>6s}  description")
    for m in found:
        usdr = m.metrics.get(models.RANKING_METRIC)
        print(f"{m.name + (' *' if m.name == auto else ''):14s} {','.join(m.stems):28s} "
              f"{m.sample_rate or 'any':>7} {','.join(m.devices):10s} "
              f"{'-' if usdr is None else f'{usdr:.2f}':>6s}  {m.description}")
    print("\n* the model 'auto' picks (best measured uSDR on held-out songs)")
    _print_added()
    codecs = models.list_codecs()
    if codecs:
        print("\nneural audio codecs (used by token separators; `stemma codec list`): "
              + ", ".join(c.name for c in codecs))
    return EXIT_OK


def _print_added() -> None:
    from .importing import added_models

    added = added_models()
    if not added:
        return
    print(f"\nadded with `stemma models add` (in {models.user_models_dir()} or "
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


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import report
    from .evaluation.run import evaluate

    def progress(i: int, n: int, name: str) -> None:
        _say(f"stemma: evaluating song {i + 1}/{n}: {name}")

    result = evaluate(args.model or [], args.data, nisqa_weights=args.nisqa_weights,
                      use_visqol=not args.no_visqol, limit=args.limit,
                      on_song=None if args.quiet else progress)
    print(report.markdown(result))
    if args.out:
        for path in report.write(result, args.out):
            _say(f"stemma: wrote {path}")
    return EXIT_OK


def cmd_synth_songs(args: argparse.Namespace) -> int:
    from .training import testset

    def progress(i: int, n: int, name: str) -> None:
        _say(f"stemma: rendering song {i + 1}/{n}: {name}")

    options = dict(sample_rate=args.rate, min_seconds=args.min_seconds,
                   max_seconds=args.max_seconds, overwrite=args.overwrite,
                   on_song=None if args.quiet else progress)
    if args.training:
        testset.write_training_songs(args.output, args.songs, seed=args.seed, **options)
    else:
        testset.write_test_set(args.output, args.songs, set_seed=args.seed, **options)
    print(f"{args.songs} songs in {args.output} (MUSDB18-HQ layout)")
    return EXIT_OK


def _options(cls, args: argparse.Namespace) -> dict:
    from dataclasses import fields

    known = {f.name for f in fields(cls)}
    return {k: v for k, v in vars(args).items() if k in known and v is not None}


def cmd_train(args: argparse.Namespace) -> int:
    if args.what == "codec":
        from .training.train_codec import CodecTrainConfig, train_codec

        print(f"codec weights: {train_codec(CodecTrainConfig(**_options(CodecTrainConfig, args)))}")
        return EXIT_OK
    if args.prepare:
        from .nn.codec import load_codec
        from .training.tokens import prepare_tokens

        if not (args.data and args.codec_weights and args.tokens):
            raise InvalidArgumentError("--prepare needs --data, --codec-weights and --tokens")
        files = prepare_tokens(args.data, load_codec(args.codec_weights), args.tokens,
                               variants=range(args.first_variant,
                                              args.first_variant + args.variants),
                               limit=args.limit, on_song=lambda i, n, name: _say(
                                   f"stemma: tokenizing song {i + 1}/{n}: {name}"))
        print(f"{len(files)} token files in {args.tokens}")
        return EXIT_OK
    if args.what == "masks":
        from .training.train_masks import MaskTrainConfig, train_masks

        path = train_masks(MaskTrainConfig(**_options(MaskTrainConfig, args)))
        print(f"mask model weights: {path}")
        return EXIT_OK
    from .training.train_separator import SeparatorTrainConfig, train_separator

    path = train_separator(SeparatorTrainConfig(**_options(SeparatorTrainConfig, args)))
    print(f"separator weights: {path}")
    return EXIT_OK


def cmd_pack_clips(args: argparse.Namespace) -> int:
    from .training.clips import pack_clips

    if args.output.suffix != ".npz":
        raise InvalidArgumentError(f"{args.output}: a clip pack is an .npz file")
    if args.output.exists() and not args.overwrite:
        raise OutputExistsError("already exists; pass --overwrite to replace it", args.output)
    path = pack_clips(args.songs, args.output, args.seconds, args.limit, args.format)
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB")
    return EXIT_OK


def cmd_codec(args: argparse.Namespace) -> int:
    from .codec import NeuralCodec
    from .models import list_codecs

    if args.action == "list":
        for info in list_codecs():
            p = info.params
            print(f"{info.name:16s} {info.sample_rate} Hz, {p['frame_rate']:g} Hz frames, "
                  f"{p['n_levels']} levels x {p['codebook_size']} codes x 2 paths  "
                  f"{info.description}")
        return EXIT_OK
    if args.input is None or args.output is None:
        raise InvalidArgumentError("codec roundtrip needs IN and OUT")
    codec = NeuralCodec(args.codec, device=args.device)
    audio, sr = api.audio_io.read(args.input)
    start = time.perf_counter()
    decoded = codec.roundtrip(audio, sr, args.levels)
    fmt = _format_of(args.output, None)
    api.audio_io.write(args.output, decoded, sr, fmt, _depth(fmt, args.bit_depth),
                       overwrite=args.overwrite)
    levels = args.levels or codec.n_levels
    print(f"{args.input} -> {args.output}: {codec.info.name}, {levels} levels per path, "
          f"{levels * 2 * 10 * codec.info.params['frame_rate'] / 1000:.2f} kbit/s per channel,"
          f" on {codec.provider}, {time.perf_counter() - start:.1f} s", flush=True)
    return EXIT_OK


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="auto", help="model name or folder (default: auto)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
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

    p = sub.add_parser("eval", help="score models on held-out songs (MUSDB18-HQ layout)")
    p.add_argument("--model", action="append", help="model to score (repeatable), as NAME, "
                   "FOLDER or NAME:key=value,... (e.g. tokenlm:refine=false); 'codec' adds the "
                   "true stems through the codec; mixture and oracle-irm are always added")
    p.add_argument("--data", type=Path, required=True, help="folder of <song>/mixture.wav ...")
    p.add_argument("--out", type=Path, help="folder for report.md, report.json and charts")
    p.add_argument("--nisqa-weights", type=Path, help="NISQA weights (nisqa.tar); "
                   "never shipped, so NISQA is skipped without them")
    p.add_argument("--no-visqol", action="store_true", help="skip ViSQOL (the slowest metric)")
    p.add_argument("--limit", type=int, help="only the first N songs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("synth-songs", help="render songs with our synthesizer (MUSDB layout)")
    p.add_argument("output", type=Path)
    p.add_argument("--songs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="test set number, or training seed")
    p.add_argument("--training", action="store_true",
                   help="training songs (seeds disjoint from every test set)")
    p.add_argument("--rate", type=int, default=44100)
    p.add_argument("--min-seconds", type=float, default=15.0)
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(run=cmd_synth_songs)

    p = sub.add_parser("codec", help="the neural audio codec: list, or roundtrip a file")
    p.add_argument("action", choices=("roundtrip", "list"))
    p.add_argument("input", nargs="?", type=Path)
    p.add_argument("output", nargs="?", type=Path)
    p.add_argument("--codec", default="default", help="codec name or folder")
    p.add_argument("--levels", type=int, help="RVQ levels per path to decode (default: all)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--bit-depth", choices=("16", "24", "32f"))
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_codec)

    p = sub.add_parser("train", help="train a model on our data (see engine/training)")
    p.add_argument("what", choices=("codec", "separator", "masks"))
    p.add_argument("--prepare", action="store_true",
                   help="separator: tokenize --data with --codec-weights into --tokens")
    p.add_argument("--codec-weights", type=Path)
    p.add_argument("--tokens", help="separator: folder of prepared token files")
    p.add_argument("--variants", type=int, default=3, help="augmented copies per song")
    p.add_argument("--first-variant", dest="first_variant", type=int, default=0,
                   help="separator --prepare: start at this variant (0: unaugmented)")
    p.add_argument("--limit", type=int, help="separator --prepare: only the first N songs")
    p.add_argument("--parallel", action="store_const", const=True,
                   help="separator: ablation A3 (independent tracks)")
    p.add_argument("--preset", help="architecture preset: small (CPU) or paper")
    p.add_argument("--data", help="training songs in the MUSDB18-HQ layout")
    p.add_argument("--out", help="run folder (a rerun resumes from OUT/last.pt)")
    p.add_argument("--steps", type=int)
    p.add_argument("--minutes", type=float, help="stop after this much training time")
    p.add_argument("--val-data", dest="val_data", help="codec: clip pack of held-out stems; "
                   "masks: held-out songs")
    p.add_argument("--val-tokens", dest="val_tokens",
                   help="separator: token files of held-out songs")
    p.add_argument("--teacher-steps", dest="teacher_steps", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--segment-s", dest="segment_s", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup", type=int, help="learning-rate warm-up steps")
    p.add_argument("--workers", type=int)
    p.add_argument("--log-every", dest="log_every", type=int)
    p.add_argument("--ckpt-every", dest="ckpt_every", type=int)
    p.add_argument("--init", help="separator, masks: weights to start from (no checkpoint "
                   "in OUT)")
    p.add_argument("--remix", type=float, help="masks: share of crops mixing different songs")
    p.add_argument("--sampled", type=float,
                   help="separator: share of input tokens replaced by the model's own "
                   "predictions (scheduled sampling)")
    p.add_argument("--level-decay", dest="level_decay", type=float,
                   help="separator: loss weight of RVQ level l scaled by this**l")
    p.add_argument("--snapshot-every", dest="snapshot_every", type=int,
                   help="separator: keep the weights every N steps (learning curves)")
    p.add_argument("--bf16", choices=("auto", "on", "off"),
                   help="bfloat16 autocast (default auto: only where the hardware has it)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"),
                   help="train on CUDA or the CPU (default auto: CUDA if there is a GPU)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("pack-clips", help="pack single-stem training clips (Opus) into one "
                       "file, to train the codec where songs cannot be rendered")
    p.add_argument("songs", type=Path, help="training songs in the MUSDB18-HQ layout")
    p.add_argument("output", type=Path, help="the pack (.npz)")
    p.add_argument("--seconds", type=float, default=4.8, help="clip length per stem")
    p.add_argument("--format", default="opus", choices=("opus", "flac"),
                   help="opus: compact, to carry elsewhere; flac: lossless")
    p.add_argument("--limit", type=int, help="only the first N songs")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_pack_clips)

    p = sub.add_parser("models", help="list installed models; add or remove your own")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_models)
    _models_actions(p.add_subparsers(dest="action"))
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(_LineFormatter())
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        handlers=[handler])
    run: Callable[[argparse.Namespace], int] = args.run
    _stopped_by.clear()
    try:
        return run(args)
    except Cancelled:
        _say("stemma: cancelled; no partial files were left")
        return 128 + _stopped_by[0] if _stopped_by else EXIT_CANCELLED
    except KeyboardInterrupt:
        _say("stemma: interrupted; no partial files were left")
        return 128 + _stopped_by[0] if _stopped_by else EXIT_CANCELLED
    except USAGE_ERRORS as err:
        _error(err)
        return EXIT_USAGE
    except EngineError as err:
        _error(err)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
