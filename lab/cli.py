"""``stemma-lab``: the lab's command, for whoever makes and measures models.

    stemma-lab synth-songs testset/ --songs 10               # held-out songs, MUSDB18-HQ layout
    stemma-lab pack-clips cache48/ clips.npz --seconds 9     # codec training clips
    stemma-lab train codec --data clips.npz --out runs/codec
    stemma-lab tokenize --data cache48 --codec-weights codec.safetensors --tokens runs/tokens
    stemma-lab train tokenlm --tokens runs/tokens --out runs/sep
    stemma-lab train bandsplit --data cache44 --out runs/masks
    stemma-lab average soup.safetensors a.safetensors b.safetensors   # a model soup
    stemma-lab export tokenlm runs/sep/separator_best.safetensors OUT --name tokenlm ...
    stemma-lab eval --model classic --model tokenlm --data testset/ --out report/
    stemma-lab codec roundtrip song.wav coded.wav --levels 4

Each trainer takes exactly the options of its own config (``CodecTrainConfig``,
``SeparatorTrainConfig``, ``MaskTrainConfig``): an option meant for another trainer is a usage
error, never silently dropped. Exit codes are those of ``stemma``.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path

from engine import cli as user_cli
from engine.cli import EXIT_OK, say
from engine.errors import InvalidArgumentError, MissingExtraError, OutputExistsError
from engine.outputs import OutputSpec

# trainer name -> (module, config class, train function, what it writes)
TRAINERS = {
    "codec": ("lab.training.train_codec", "CodecTrainConfig", "train_codec", "codec weights"),
    "tokenlm": ("lab.training.train_separator", "SeparatorTrainConfig", "train_separator",
                "separator weights"),
    "bandsplit": ("lab.training.train_masks", "MaskTrainConfig", "train_masks",
                  "mask model weights"),
}
EXPORTS = {"codec": "export_onnx.codec", "tokenlm": "export_onnx.separator",
           "bandsplit": "export_onnx.bandsplit"}
CHOICES = {"bf16": ("auto", "on", "off"), "device": ("auto", "cpu", "cuda")}


def _field_comments(cls: type) -> dict[str, str]:
    """Each config field's trailing comment (continued on the lines below it): its help."""
    notes: dict[str, str] = {}
    current = None
    for line in inspect.getsource(cls).splitlines():
        field = re.match(r"\s+(\w+): [^=]+=[^#]*(?:#\s*(.*))?$", line)
        if field:
            current = field.group(1)
            notes[current] = field.group(2) or ""
        elif current and re.match(r"\s+#\s*", line):
            notes[current] += " " + line.strip().lstrip("#").strip()
        else:
            current = None
    return notes


def _config_options(p: argparse.ArgumentParser, cls: type) -> None:
    """One ``--option`` per field of a training config, typed by its default."""
    notes = _field_comments(cls)
    for f in fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        note = notes.get(f.name, "")
        if isinstance(default, bool):
            p.add_argument(flag, dest=f.name, action="store_const", const=True, help=note)
        else:
            p.add_argument(flag, dest=f.name, type=type(default), choices=CHOICES.get(f.name),
                           help=f"{note} (default: {default!r})".strip())


def _config(cls: type, args: argparse.Namespace):
    return cls(**{f.name: getattr(args, f.name) for f in fields(cls)
                  if getattr(args, f.name, None) is not None})


def cmd_train(args: argparse.Namespace) -> int:
    import importlib

    module, config, train, what = TRAINERS[args.trainer]
    mod = importlib.import_module(module)
    path = getattr(mod, train)(_config(getattr(mod, config), args))
    print(f"{what}: {path}")
    return EXIT_OK


def cmd_tokenize(args: argparse.Namespace) -> int:
    from lab.nn.codec import load_codec
    from lab.training.tokens import prepare_tokens

    files = prepare_tokens(
        args.data, load_codec(args.codec_weights), args.tokens,
        variants=range(args.first_variant, args.first_variant + args.variants), limit=args.limit,
        codec_probability=args.codec_probability,
        on_song=lambda i, n, name: say(f"stemma-lab: tokenizing song {i + 1}/{n}: {name}"))
    print(f"{len(files)} token files in {args.tokens}")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from lab.evaluation import report
    from lab.evaluation.run import evaluate

    def progress(i: int, n: int, name: str) -> None:
        say(f"stemma-lab: evaluating song {i + 1}/{n}: {name}")

    result = evaluate(args.model or [], args.data, nisqa_weights=args.nisqa_weights,
                      use_visqol=not args.no_visqol, limit=args.limit,
                      on_song=None if args.quiet else progress)
    print(report.markdown(result))
    if args.out:
        for path in report.write(result, args.out):
            say(f"stemma-lab: wrote {path}")
    return EXIT_OK


def cmd_synth_songs(args: argparse.Namespace) -> int:
    from lab.training import testset

    def progress(i: int, n: int, name: str) -> None:
        say(f"stemma-lab: rendering song {i + 1}/{n}: {name}")

    try:
        k, n = (int(v) for v in args.shard.split("/"))
        if not 0 <= k < n:
            raise ValueError
    except ValueError:
        raise InvalidArgumentError(f"--shard {args.shard!r}: expected K/N with 0 <= K < N, "
                                   "e.g. 0/2 and 1/2 for two processes") from None
    options = dict(sample_rate=args.rate, min_seconds=args.min_seconds, shard=(k, n),
                   max_seconds=args.max_seconds, overwrite=args.overwrite, version=args.synth,
                   on_song=None if args.quiet else progress)
    if args.training:
        testset.write_training_songs(args.output, args.songs, seed=args.seed, **options)
    else:
        testset.write_test_set(args.output, args.songs, set_seed=args.seed, **options)
    print(f"{args.songs} songs in {args.output} (MUSDB18-HQ layout)")
    return EXIT_OK


def cmd_pack_clips(args: argparse.Namespace) -> int:
    from lab.training.clips import pack_clips

    if args.output.suffix != ".npz":
        raise InvalidArgumentError(f"{args.output}: a clip pack is an .npz file")
    if args.output.exists() and not args.overwrite:
        raise OutputExistsError("already exists; pass --overwrite to replace it", args.output)
    path = pack_clips(args.songs, args.output, args.seconds, args.limit, args.format)
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB")
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    from .evaluation.register import register

    metrics = register(args.report, args.model, args.row, args.measured_on)
    print(f"{args.model}: usdr_avg {metrics['usdr_avg']:.2f} dB ({args.row})")
    return EXIT_OK


def cmd_average(args: argparse.Namespace) -> int:
    from safetensors import SafetensorError

    from engine.errors import ModelError
    from engine.nn.serialization import read_meta, save_model
    from lab.training.runs import average_models

    if args.output.exists() and not args.overwrite:
        raise OutputExistsError("already exists; pass --overwrite to replace it", args.output)
    for path in args.models:
        if not path.is_file():
            raise ModelError("no such model file", path)
        try:
            read_meta(path)
        except (SafetensorError, ValueError) as err:
            raise ModelError(f"not a model file of ours ({err})", path) from None
    try:
        kind, config, state = average_models(args.models, args.shares)
    except ValueError as err:
        raise InvalidArgumentError(str(err)) from None
    save_model(args.output, state, kind, config)
    shares = args.shares or [1.0] * len(args.models)
    print(f"{args.output}: {kind} averaged from " + ", ".join(
        f"{path} ({share / sum(shares):.2f})" for path, share in zip(args.models, shares,
                                                                     strict=True)))
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    import numpy as np

    from engine.backends.tokenlm import N_FFT, RATE

    from .evaluation.calibrate import calibrate
    from .musdb import STEMS

    def on_song(name: str, i: int, n: int) -> None:
        if not args.quiet:
            say(f"stemma-lab: generating song {i + 1}/{n}: {name}")

    gains = calibrate(args.model, args.data, args.limit, args.strength, on_song)
    db = 10 * np.log10(gains)
    low = int(np.ceil(250 * N_FFT / RATE))  # the bins below 250 Hz
    print(f"{args.model}: prior gains written (dB, mean below 250 Hz / above): "
          + ", ".join(f"{s} {db[k, :low].mean():+.1f} / {db[k, low:].mean():+.1f}"
                      for k, s in enumerate(STEMS)))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    import importlib

    importlib.import_module(EXPORTS[args.kind]).main(args.rest, prog=f"stemma-lab export "
                                                     f"{args.kind}")
    return EXIT_OK


def cmd_codec(args: argparse.Namespace) -> int:
    from engine import audio_io
    from engine.neural_codec import NeuralCodec
    from engine.registry import list_codecs

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
    audio, sr = audio_io.read(args.input)
    start = time.perf_counter()
    decoded = codec.roundtrip(audio, sr, args.levels)
    spec = OutputSpec.for_file(args.output, args.bit_depth, args.overwrite)
    audio_io.write(args.output, decoded, sr, spec.fmt, spec.depth, overwrite=spec.overwrite)
    levels = args.levels or codec.n_levels
    print(f"{args.input} -> {args.output}: {codec.info.name}, {levels} levels per path, "
          f"{levels * 2 * 10 * codec.info.params['frame_rate'] / 1000:.2f} kbit/s per channel,"
          f" on {codec.provider}, {time.perf_counter() - start:.1f} s", flush=True)
    return EXIT_OK


def _missing_extra(err: ImportError):
    def run(args: argparse.Namespace) -> int:
        raise MissingExtraError(f"training needs packages that are not installed ({err}): "
                                "pip install 'stemma[train]', or scripts/install.sh --train")
    return run


def _train_parsers(sub) -> None:
    import importlib

    p = sub.add_parser("train", help="train a model on our data (lab/training)")
    trainers = p.add_subparsers(dest="trainer", required=True)
    for name, (module, config, _, _) in TRAINERS.items():
        try:
            mod = importlib.import_module(module)
        except ImportError as err:  # no torch: the other commands still work
            t = trainers.add_parser(name, help=f"(needs the train extra: {err})")
            t.add_argument("rest", nargs=argparse.REMAINDER)
            t.set_defaults(run=_missing_extra(err))
            continue
        t = trainers.add_parser(name, help=(inspect.getdoc(mod) or "").splitlines()[0])
        _config_options(t, getattr(mod, config))
        t.set_defaults(run=cmd_train)

    p = sub.add_parser("tokenize", help="codec tokens of training songs, for train tokenlm")
    p.add_argument("--data", required=True, help="songs in the MUSDB18-HQ layout")
    p.add_argument("--codec-weights", type=Path, required=True)
    p.add_argument("--tokens", required=True, help="folder for the token files")
    p.add_argument("--variants", type=int, default=3, help="augmented copies per song")
    p.add_argument("--first-variant", type=int, default=0,
                   help="start at this variant (0: unaugmented)")
    p.add_argument("--limit", type=int, help="only the first N songs")
    p.add_argument("--codec-probability", type=float, default=0.25,
                   help="share of the 44.1 kHz deliveries (mel_delivered) also coded as MP3/AAC")
    p.set_defaults(run=cmd_tokenize)


def _data_parsers(sub) -> None:
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
    p.add_argument("--synth", default="v2", choices=("v1", "v2"),
                   help="synthesizer version: v2 (Festival voices sung by WORLD, release "
                   "master) or v1 (espeak-ng + PSOLA: the older test sets' songs)")
    p.add_argument("--shard", default="0/1", metavar="K/N",
                   help="render only songs i with i %% N == K (same names and seeds): run N "
                   "processes, K = 0..N-1, to use N cores")
    p.add_argument("--min-seconds", type=float, default=15.0)
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(run=cmd_synth_songs)

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


def _model_parsers(sub) -> None:
    p = sub.add_parser("export", help="checkpoint in, verified ONNX model folder out "
                       "(export_onnx); `stemma-lab export KIND --help` for its options")
    p.add_argument("kind", choices=tuple(EXPORTS))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the exporter's arguments")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("register", help="write a model's scores from an eval report into its "
                       "manifest (auto picks the best usdr_avg)")
    p.add_argument("report", type=Path, help="report.json of `stemma-lab eval`")
    p.add_argument("model", type=Path, help="the model folder whose manifest gets the scores")
    p.add_argument("--row", required=True, help="the report's row for that model, e.g. "
                   "bandsplit:wiener=false")
    p.add_argument("--measured-on", required=True, help="the songs and the command, said in "
                   "the manifest")
    p.set_defaults(run=cmd_register)

    p = sub.add_parser("average", help="average the weights of model files of one "
                       "architecture (a model soup: runs from the same start), e.g. the shipped "
                       "weights and a later session's")
    p.add_argument("output", type=Path, help="the averaged weights (.safetensors, float32)")
    p.add_argument("models", type=Path, nargs="+", help="model files (.safetensors)")
    p.add_argument("--shares", type=lambda s: [float(v) for v in s.split(",")],
                   help="comma-separated weight of each file in the average (default: equal)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_average)

    p = sub.add_parser("calibrate", help="fit a token separator's prior gains (true over "
                       "generated power per stem and frequency) on held-out songs and write "
                       "them into its folder")
    p.add_argument("model", type=Path, help="the tokenlm model folder")
    p.add_argument("--data", type=Path, required=True, help="calibration songs (MUSDB18-HQ "
                   "layout), used by no training run and no test: the lab's test set 3")
    p.add_argument("--limit", type=int, help="only the first N songs")
    p.add_argument("--strength", type=float, default=1.0, help="exponent on the ratio (1: "
                   "the full correction, 0: none)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(run=cmd_calibrate)

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stemma-lab", description="Make and measure "
                                     "Stemma's models: data, training, export, evaluation.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parsers(sub)
    _data_parsers(sub)
    _model_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    return user_cli.run(build_parser(), argv, prog="stemma-lab")


if __name__ == "__main__":
    sys.exit(main())
