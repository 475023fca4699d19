"""A local web server for a Magenta.js model: a page with piano keys that continues what you play.

`make_server(model_dir)` serves, on 127.0.0.1 by default:

- ``/``: the page (``page/index.html``, ``app.js``, ``style.css`` beside this module);
- ``/model/...``: the files of a folder written by `melodylib.bundles.magenta_js.export_magenta_js`;
- ``/lib/tf.min.js`` and ``/lib/music_rnn.js``: TensorFlow.js and Magenta.js's MusicRNN, taken
  from an installed ``node_modules`` folder (`find_magenta_js`), and ``/lib/source.json`` saying
  which files those are, for the page to show. Nothing is fetched from the internet.

Only these names are served; any other path is a 404, so nothing else on the disk is reachable.
"""

from __future__ import annotations

import http.server
import json
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from melodylib.errors import MelodylibError

__all__ = ["MagentaJsFiles", "find_magenta_js", "make_server", "read_model_spec"]

PAGE_DIR = Path(__file__).resolve().parent / "page"
PAGE_FILES = ("index.html", "app.js", "style.css")
NODE_MODULES_VARIABLE = "MELODYLIB_NODE_MODULES"
# In a source checkout, the Node packages the tests install (npm ci --prefix tests/js).
CHECKOUT_NODE_MODULES = Path(__file__).resolve().parents[2] / "tests" / "js" / "node_modules"
MUSIC_RNN_SCRIPT = Path("@magenta", "music", "es6", "music_rnn.js")
TENSORFLOW_SCRIPT = Path("@tensorflow", "tfjs", "dist", "tf.min.js")
INSTALL_HINT = (
    "install Magenta.js with `npm install --prefix DIR @magenta/music@1.23.1` and pass "
    "--node_modules=DIR/node_modules (in a melodylib checkout: `npm ci --prefix tests/js`)"
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}


@dataclass(frozen=True)
class MagentaJsFiles:
    """The two scripts the page loads, found in one node_modules folder, and their versions."""

    node_modules: Path
    music_rnn: Path
    tensorflow: Path
    magenta_version: str
    tensorflow_version: str

    def source(self) -> dict:
        """What /lib/source.json tells the page: which files it runs, from where."""
        return {
            "nodeModules": str(self.node_modules),
            "magentaJs": str(self.music_rnn),
            "magentaJsVersion": self.magenta_version,
            "tensorflowJs": str(self.tensorflow),
            "tensorflowJsVersion": self.tensorflow_version,
        }


def find_magenta_js(node_modules: str | os.PathLike | None = None) -> MagentaJsFiles:
    """Magenta.js's MusicRNN script and TensorFlow.js in `node_modules`, else in the usual places.

    Without `node_modules`, looks in $MELODYLIB_NODE_MODULES, ./node_modules and a melodylib
    checkout's tests/js/node_modules, in that order. MelodylibError with the npm command if none
    has them.
    """
    if node_modules is not None:
        candidates = [Path(node_modules)]
    else:
        candidates = (
            [Path(os.environ[NODE_MODULES_VARIABLE])]
            if os.environ.get(NODE_MODULES_VARIABLE)
            else []
        )
        candidates += [Path.cwd() / "node_modules", CHECKOUT_NODE_MODULES]
    for folder in candidates:
        found = _magenta_js_in(folder)
        if found is not None:
            return found
    looked = ", ".join(str(folder) for folder in candidates)
    raise MelodylibError(
        f"Magenta.js is not installed in {looked} (looked for {MUSIC_RNN_SCRIPT} and "
        f"{TENSORFLOW_SCRIPT}); {INSTALL_HINT}"
    )


def _magenta_js_in(folder: Path) -> MagentaJsFiles | None:
    """The scripts in one node_modules folder (TensorFlow.js hoisted or nested), or None."""
    music_rnn = folder / MUSIC_RNN_SCRIPT
    if not music_rnn.is_file():
        return None
    for tensorflow in (
        folder / TENSORFLOW_SCRIPT,
        folder / "@magenta" / "music" / "node_modules" / TENSORFLOW_SCRIPT,
    ):
        if tensorflow.is_file():
            return MagentaJsFiles(
                node_modules=folder.resolve(),
                music_rnn=music_rnn.resolve(),
                tensorflow=tensorflow.resolve(),
                magenta_version=_package_version(music_rnn.parents[1]),
                tensorflow_version=_package_version(tensorflow.parents[1]),
            )
    return None


def _package_version(package_dir: Path) -> str:
    try:
        return str(json.loads((package_dir / "package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"


def read_model_spec(model_dir: str | os.PathLike) -> dict:
    """The config.json of an exported model folder, checked to be a melody MusicRNN."""
    model_dir = Path(model_dir)
    hint = "write one with `melody_rnn export_magenta_js --bundle_file=B --output_dir=D`"
    if not model_dir.is_dir():
        raise MelodylibError(f"--model_dir {model_dir} is not a folder; {hint}")
    for name in ("config.json", "weights_manifest.json"):
        if not (model_dir / name).is_file():
            raise MelodylibError(
                f"--model_dir {model_dir} has no {name}: not a Magenta.js model folder; {hint}"
            )
    try:
        spec = json.loads((model_dir / "config.json").read_text("utf-8"))
        converter = spec["dataConverter"]["type"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MelodylibError(
            f"{model_dir / 'config.json'} cannot be read as a MusicRNN spec ({error}); {hint}"
        ) from None
    if spec.get("type") != "MusicRNN" or converter != "MelodyConverter":
        raise MelodylibError(
            f"{model_dir / 'config.json'} describes a {spec.get('type')} over a {converter}; the "
            "page plays melodies, so it needs a MusicRNN over a MelodyConverter"
        )
    return spec


def make_server(
    model_dir: str | os.PathLike,
    node_modules: str | os.PathLike | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> http.server.ThreadingHTTPServer:
    """A server (not yet serving: call `serve_forever`) for the page, the model and Magenta.js.

    Port 0 picks a free port (see `server.server_address`).
    """
    missing = [name for name in PAGE_FILES if not (PAGE_DIR / name).is_file()]
    if missing:
        raise MelodylibError(
            f"the page's files are missing from {PAGE_DIR} ({', '.join(missing)}): this melodylib "
            "was installed without them; reinstall it from a source checkout (pip install -e .)"
        )
    model_dir = Path(model_dir).resolve()
    read_model_spec(model_dir)
    scripts = find_magenta_js(node_modules)
    routes = {f"/{name}": PAGE_DIR / name for name in PAGE_FILES}
    routes["/"] = PAGE_DIR / "index.html"
    routes["/lib/music_rnn.js"] = scripts.music_rnn
    routes["/lib/tf.min.js"] = scripts.tensorflow
    source = json.dumps(scripts.source()).encode("utf-8")

    class Handler(_PageHandler):
        def route(self, path: str) -> bytes | Path | None:
            if path == "/lib/source.json":
                return source
            if path.startswith("/model/"):
                name = path[len("/model/") :]
                candidate = model_dir / name
                inside = name and "/" not in name and name not in (".", "..")
                return candidate if inside and candidate.is_file() else None
            return routes.get(path)

    try:
        return http.server.ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        raise MelodylibError(
            f"cannot serve on {host}:{port}: {error.strerror or error}; choose another --port"
        ) from error


class _PageHandler(http.server.BaseHTTPRequestHandler):
    """Answers GET and HEAD for the paths `route` knows; quiet unless something fails."""

    def route(self, path: str) -> bytes | Path | None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        target = self.route(path)
        if target is None:
            self.send_error(404, "not one of the page's files")
            return
        if isinstance(target, Path):
            body = target.read_bytes()
            content_type = CONTENT_TYPES.get(target.suffix, "application/octet-stream")
        else:
            body, content_type = target, CONTENT_TYPES[".json"]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # a re-exported model loads fresh
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log failed requests only: a page load is a dozen requests nobody needs to read."""
        if str(code).startswith(("4", "5")):
            super().log_request(code, size)
