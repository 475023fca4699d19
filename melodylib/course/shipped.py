"""The pretrained bundles that ship with the course, in data/bundles/ at the top of the repository."""

from __future__ import annotations

import os
from pathlib import Path

from melodylib.encoding.configs import CONFIG_NAMES

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
BUNDLE_DIR = REPOSITORY_ROOT / "data" / "bundles"
BUNDLE_SUFFIX = ".bundle"


def bundle_path(config_name: str, bundle_dir: str | os.PathLike | None = None) -> Path:
    """Where the shipped pretrained bundle of a config lives (data/bundles/<config>.bundle)."""
    return Path(bundle_dir or BUNDLE_DIR) / f"{config_name}{BUNDLE_SUFFIX}"


def shipped_bundles(bundle_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The pretrained bundles that exist, by config name."""
    paths = {name: bundle_path(name, bundle_dir) for name in CONFIG_NAMES}
    return {name: path for name, path in paths.items() if path.exists()}
