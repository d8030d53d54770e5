"""Transfer rate through the rclone storage plugin against plain rclone, on a local WebDAV server.

The same files (default 20 x 2 MB of random bytes) go up and come back down three ways, in one run:
- plugin: StorageObject.store_object / retrieve_object per file, as Snakemake calls them
  (one `rclone copyto` process per file, sequential);
- copyto loop: a plain `rclone copyto` per file (the plugin's floor: same process count);
- rclone copy: one `rclone copy` of the whole folder (the baseline the issue asks for).
Every transfer is checked by sha256. Writes benchmarks/results/rclone.json; never asserts timings.

    .venv/bin/python benchmarks/bench_rclone.py [--quick] [--files N] [--mb M]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pose3d.testing.rclone_server import rclone_binary, start_server  # noqa: E402


def _digests(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _rclone(*args: str) -> None:
    subprocess.run([rclone_binary(), "--log-level", "ERROR", *args], check=True, stdin=subprocess.DEVNULL)


def run(files: int, megabytes: float) -> dict:
    from snakemake_storage_plugin_rclone import StorageProvider, StorageProviderSettings

    work = Path(tempfile.mkdtemp(prefix="bench-rclone-"))
    server = start_server("webdav", work / "served", work / "server.log")
    try:
        source = work / "source"
        source.mkdir()
        size = int(megabytes * 1024 * 1024)
        for i in range(files):
            (source / f"shard_{i:05d}.h5").write_bytes(os.urandom(size))
        expected = _digests(source)
        total_mb = files * size / 1e6

        provider = StorageProvider(
            local_prefix=work / "local_prefix",
            logger=logging.getLogger("bench_rclone"),
            settings=StorageProviderSettings(retries=1),
        )
        objects = [provider.object(server.query(f"plugin/{name}")) for name in expected]
        for obj, name in zip(objects, expected, strict=True):
            obj.local_path().parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, obj.local_path())

        def plugin_down() -> None:
            for obj in objects:
                obj.local_path().unlink()
                obj.retrieve_object()

        timings = {
            "plugin_upload_s": _timed(lambda: [obj.store_object() for obj in objects]),
            "plugin_download_s": _timed(plugin_down),
        }
        assert _digests(objects[0].local_path().parent) == expected, "plugin round trip changed bytes"

        loop_down = work / "loop_down"
        timings["copyto_loop_upload_s"] = _timed(
            lambda: [_rclone("copyto", str(source / n), server.query(f"loop/{n}")) for n in expected]
        )
        timings["copyto_loop_download_s"] = _timed(
            lambda: [_rclone("copyto", server.query(f"loop/{n}"), str(loop_down / n)) for n in expected]
        )
        assert _digests(loop_down) == expected, "copyto round trip changed bytes"

        copy_down = work / "copy_down"
        timings["copy_upload_s"] = _timed(lambda: _rclone("copy", str(source), server.query("copy")))
        timings["copy_download_s"] = _timed(lambda: _rclone("copy", server.query("copy"), str(copy_down)))
        assert _digests(copy_down) == expected, "rclone copy round trip changed bytes"
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    rates = {key.replace("_s", "_mb_per_s"): round(total_mb / value, 2) for key, value in timings.items()}
    return {
        "files": files,
        "file_mb": round(size / 1e6, 3),
        "total_mb": round(total_mb, 2),
        "seconds": {key: round(value, 3) for key, value in timings.items()},
        "rates": rates,
        "ratio_plugin_vs_rclone_copy": {
            "upload": round(timings["copy_upload_s"] / timings["plugin_upload_s"], 3),
            "download": round(timings["copy_download_s"] / timings["plugin_download_s"], 3),
        },
        "ratio_plugin_vs_copyto_loop": {
            "upload": round(timings["copyto_loop_upload_s"] / timings["plugin_upload_s"], 3),
            "download": round(timings["copyto_loop_download_s"] / timings["plugin_download_s"], 3),
        },
        "peak_rss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 files x 1 MB")
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--mb", type=float, default=2.0, help="size of each file in MiB")
    args = parser.parse_args()
    if rclone_binary() is None:
        sys.exit("bench_rclone: the rclone binary is not installed (apt-get install rclone)")
    files, megabytes = (5, 1.0) if args.quick else (args.files, args.mb)
    result = run(files, megabytes)
    version = subprocess.run(
        [rclone_binary(), "version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    result["environment"] = {"rclone": version, "python": platform.python_version(), "cpus": os.cpu_count()}
    result["note"] = (
        "ratio = plain time / plugin time (1.0 = as fast as plain rclone; below 1 = plugin slower). "
        "Local WebDAV server on 127.0.0.1; the plugin runs one rclone process per file as Snakemake asks "
        "per file, while `rclone copy` moves the folder in one process with --transfers 4."
    )
    out = REPO / "benchmarks" / "results" / "rclone.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
