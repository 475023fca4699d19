"""Time to quality: the eval NLL a config reaches after 5 and 10 minutes of training, beside Magenta's.

What a workshop learner sees: a fresh `train` process on this machine, default hparams, stopped
after a few minutes. Per config, both tools train on the same data (a plain copy of the course
corpus's training file, which Magenta also reads) as whole processes, each saving a checkpoint every
60 s (Magenta's fixed interval; melodylib is given the same), and each process is ended after the
last mark plus one interval. Every checkpoint is then scored by melodylib on the corpus's eval split
with dropout off (Magenta's through its own variables, read from its checkpoint), and the NLL at
each mark is read off the line between the checkpoints written just before and just after it
(times counted from the start of the process, start-up included).

Run with the project's venv, on a machine as quiet as you can get it (one run at a time):

    .venv/bin/python benchmarks/time_to_quality.py --configs basic_rnn,attention_rnn [--minutes 5,10]
    .venv/bin/python benchmarks/time_to_quality.py --tools melodylib      # without Magenta
    .venv/bin/python benchmarks/time_to_quality.py --report_only          # score and print again

Magenta runs in its own venv (`--magenta_python`, as for vs_magenta.py). Runs are kept in
`--work_dir` (default output/time_to_quality), one folder per tool and config; a finished run is
not trained again. The script prints one table: per config, each tool's NLL at each mark, its
steps by then, and the pretrained bundle's NLL for comparison.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

from bench_common import PROJECT_ROOT, machine_header, markdown_table, progress
from vs_magenta import (
    DEFAULT_MAGENTA_PYTHON,
    check_magenta_python,
    magenta_entry_point,
    magenta_environment,
    our_cli,
    our_environment,
)

CONFIGS = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
TOOLS = ("melodylib", "magenta")
CHECKPOINT_SECONDS = 60
CORPUS = PROJECT_ROOT / "data" / "corpus" / "full"


def plain_training_file(work_dir: Path, config: str) -> Path:
    """A plain (uncompressed) copy of the corpus's training file: Magenta reads only plain files."""
    target = work_dir / "data" / config / "training_melodies.tfrecord"
    if not target.exists():
        source = CORPUS / config / "training_melodies.tfrecord"
        if not source.exists():
            raise SystemExit(
                f"{source} is missing: build the corpus with `melody_rnn build_corpus`"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with gzip.open(source, "rb") as compressed, open(partial, "wb") as plain:
            shutil.copyfileobj(compressed, plain)
        partial.rename(target)
    return target


def training_command(tool: str, config: str, run_dir: Path, data: Path, args) -> list[str]:
    """The command a learner would type, for either tool (default hparams, checkpoints every 60 s)."""
    if tool == "magenta":
        return magenta_entry_point(args, "melody_rnn_train") + [
            f"--config={config}",
            f"--run_dir={run_dir}",
            f"--sequence_example_file={data}",
            "--num_checkpoints=1000",
            "--summary_frequency=50",
        ]
    return our_cli() + [
        "train",
        f"--config={config}",
        f"--run_dir={run_dir}",
        f"--sequence_example_file={data}",
        "--num_checkpoints=1000",
        f"--save_checkpoint_secs={CHECKPOINT_SECONDS}",
        "--summary_frequency=50",
        "--seed=1",
    ]


def train_for(tool: str, config: str, seconds: float, work_dir: Path, args) -> Path:
    """Run one training process for `seconds` (plus one checkpoint interval), then stop it."""
    run_dir = work_dir / tool / config
    if (run_dir / "started.json").exists():
        return run_dir
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    data = plain_training_file(work_dir, config)
    environment = magenta_environment() if tool == "magenta" else our_environment()
    command = training_command(tool, config, run_dir, data, args)
    progress(f"training {tool} {config} for {seconds + CHECKPOINT_SECONDS + 5:.0f} s")
    started = time.time()
    with open(run_dir / "train.log", "w") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=log)
        try:
            process.wait(timeout=seconds + CHECKPOINT_SECONDS + 5)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)
    (run_dir / "started.json").write_text(json.dumps({"started": started}))
    return run_dir


def checkpoints(tool: str, run_dir: Path) -> list[tuple[float, int, str]]:
    """(seconds since the process started, step, prefix) of every checkpoint of a run, in order."""
    started = json.loads((run_dir / "started.json").read_text())["started"]
    pattern = "model.ckpt-*.index" if tool == "magenta" else "ckpt-*.index"
    found = []
    for index in (run_dir / "train").glob(pattern):
        prefix = str(index)[: -len(".index")]
        step = int(prefix.rsplit("-", 1)[1])
        found.append((index.stat().st_mtime - started, step, prefix))
    return sorted(found)


def score(prefix: str, config: str) -> float:
    """Eval NLL (nats per step, dropout off) of one checkpoint of either tool on the eval split."""
    from melodylib.bundles.sources import load_model
    from melodylib.encoding.configs import get_config
    from melodylib.evaluation.metrics import evaluate_model

    model, model_config, _ = load_model(checkpoint_file=prefix, config=get_config(config))
    eval_file = CORPUS / config / "eval_melodies.tfrecord"
    metrics = evaluate_model(model, str(eval_file), config=model_config, batch_size=128)
    return float(metrics["loss"])


def scored_curve(tool: str, config: str, run_dir: Path) -> list[dict]:
    """Every checkpoint's time, step and eval NLL (cached in curve.json)."""
    cache = run_dir / "curve.json"
    if cache.exists():
        return json.loads(cache.read_text())
    curve = []
    for seconds, step, prefix in checkpoints(tool, run_dir):
        if step == 0:
            continue  # Magenta saves the untrained weights first
        progress(f"scoring {tool} {config} step {step}")
        curve.append({"seconds": seconds, "step": step, "eval_nll": score(prefix, config)})
    cache.write_text(json.dumps(curve, indent=1))
    return curve


def at_mark(curve: list[dict], seconds: float) -> tuple[float, float] | None:
    """(NLL, step) at `seconds`, on the line between the checkpoints before and after it.

    Before the first checkpoint there is nothing to say (None); after the last, the last holds.
    """
    before = [point for point in curve if point["seconds"] <= seconds]
    after = [point for point in curve if point["seconds"] > seconds]
    if not before:
        return None
    left = before[-1]
    if not after:
        return left["eval_nll"], left["step"]
    right = after[0]
    share = (seconds - left["seconds"]) / (right["seconds"] - left["seconds"])
    nll = left["eval_nll"] + share * (right["eval_nll"] - left["eval_nll"])
    step = left["step"] + share * (right["step"] - left["step"])
    return nll, step


def bundle_nll(config: str) -> float:
    """The shipped pretrained bundle's eval NLL, the figure a learner's model is compared with."""
    from melodylib.bundles.sources import load_model
    from melodylib.evaluation.metrics import evaluate_model

    model, model_config, _ = load_model(
        bundle_file=str(PROJECT_ROOT / "data/bundles" / f"{config}.bundle")
    )
    eval_file = CORPUS / config / "eval_melodies.tfrecord"
    return float(evaluate_model(model, str(eval_file), config=model_config, batch_size=128)["loss"])


def format_cell(value: tuple[float, float] | None) -> str:
    return "-" if value is None else f"{value[0]:.3f} ({value[1]:,.0f} steps)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--minutes", default="5,10")
    parser.add_argument("--work_dir", type=Path, default=PROJECT_ROOT / "output/time_to_quality")
    parser.add_argument("--magenta_python", default=DEFAULT_MAGENTA_PYTHON)
    parser.add_argument("--report_only", action="store_true")
    args = parser.parse_args(argv)
    configs = [name for name in args.configs.split(",") if name]
    tools = [name for name in args.tools.split(",") if name]
    marks = [float(value) for value in args.minutes.split(",") if value]
    versions = check_magenta_python(args.magenta_python) if "magenta" in tools else {}
    print(machine_header("Time to quality", {f"Magenta's {k}": v for k, v in versions.items()}))
    rows = []
    for config in configs:
        cells = [config]
        for tool in tools:
            run_dir = args.work_dir / tool / config
            if not args.report_only:
                train_for(tool, config, max(marks) * 60, args.work_dir, args)
            curve = scored_curve(tool, config, run_dir) if run_dir.exists() else []
            cells.extend(format_cell(at_mark(curve, mark * 60)) for mark in marks)
        cells.append(f"{bundle_nll(config):.3f}")
        rows.append(cells)
    headers = ["config"]
    headers += [f"{tool}, {mark:g} min" for tool in tools for mark in marks]
    headers.append("pretrained bundle")
    print()
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
