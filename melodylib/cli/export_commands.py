"""Subcommands for the browser: export_magenta_js (a Magenta.js model) and serve_web (a page)."""

from __future__ import annotations

import argparse

from melodylib.cli.flags import add_log_flag
from melodylib.errors import MelodylibError


def add_export_magenta_js(subparsers) -> None:
    parser = subparsers.add_parser(
        "export_magenta_js",
        help="Write a one-hot model as a Magenta.js MusicRNN checkpoint folder.",
        description="Write a trained one-hot melody model (basic_rnn, mono_rnn or a custom pitch "
        "range) as a folder Magenta.js's MusicRNN loads in a browser: config.json, "
        "weights_manifest.json and 4 MiB weight shards. lookback_rnn, attention_rnn and models "
        "with attention cannot be exported: Magenta.js computes neither their inputs nor "
        "melodylib's attention. See docs/magenta-js.md.",
    )
    parser.add_argument(
        "--bundle_file", default=None, help="The bundle to export (ours or a Magenta .mag)."
    )
    parser.add_argument(
        "--run_dir",
        default=None,
        help="Instead of a bundle: a training run (its latest checkpoint).",
    )
    parser.add_argument(
        "--checkpoint_file", default=None, help="Instead of a bundle: a checkpoint to export."
    )
    parser.add_argument(
        "--output_dir",
        required=True,
        help="The folder to write: a new or empty one, or an earlier export (which is replaced).",
    )
    add_log_flag(parser)
    parser.set_defaults(run=run_export_magenta_js)


def run_export_magenta_js(flags: argparse.Namespace) -> int:
    from melodylib.bundles.magenta_js import export_magenta_js
    from melodylib.bundles.sources import load_model

    if not (flags.bundle_file or flags.run_dir or flags.checkpoint_file):
        raise MelodylibError("give --bundle_file, --run_dir or --checkpoint_file to export")
    model, config, name = load_model(
        bundle_file=flags.bundle_file, run_dir=flags.run_dir, checkpoint_file=flags.checkpoint_file
    )
    path = export_magenta_js(model, flags.output_dir, config, source=name)
    files = sorted(entry.name for entry in path.iterdir())
    print(f"Wrote {config.name} to {path} ({', '.join(files)}).")
    print(f"Try it in a browser: melody_rnn serve_web --model_dir={path}")
    return 0


def add_serve_web(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve_web",
        help="Serve a page that continues what you play with an exported Magenta.js model.",
        description="Serve, on this computer only, a web page with piano keys: play a few notes "
        "and the model exported by export_magenta_js continues them in the browser with "
        "Magenta.js. Magenta.js and TensorFlow.js come from an installed node_modules folder "
        "(npm install @magenta/music@1.23.1); nothing is fetched from the internet.",
    )
    parser.add_argument("--model_dir", required=True, help="A folder written by export_magenta_js.")
    parser.add_argument(
        "--node_modules",
        default=None,
        help="The node_modules folder holding @magenta/music (default: $MELODYLIB_NODE_MODULES, "
        "./node_modules, or a melodylib checkout's tests/js/node_modules).",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="The address to listen on (default 127.0.0.1: this computer only).",
    )
    parser.add_argument("--port", type=int, default=8000, help="The port (default 8000).")
    add_log_flag(parser)
    parser.set_defaults(run=run_serve_web)


def run_serve_web(flags: argparse.Namespace) -> int:
    from melodylib.web.server import make_server

    server = make_server(flags.model_dir, flags.node_modules, flags.host, flags.port)
    host, port = server.server_address[:2]
    print(f"Serving {flags.model_dir} at http://{host}:{port}/ (Ctrl-C stops).", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.")
    finally:
        server.server_close()
    return 0
