"""What every benchmark shares: an offline environment and one way to write its JSON result."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any


def offline_environment() -> None:
    """No model hub may be asked: the benchmarks build their tiny models themselves."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "pose3d-bench-yolo-config"))


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Add the machine's description and write `results` as JSON (folders created)."""
    results.setdefault("machine", {}).update({"platform": platform.platform(), "cpus": os.cpu_count()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
