"""The whole DAG with `storage.remote` set: data-stage shards live on an rclone remote.

The remote is an on-the-fly WebDAV remote with a user and an (obscured) password, served by a
real `rclone serve webdav` (the real rclone binary and the real storage plugin). Training and
evaluation read the shards through the local shard cache, not through Snakemake. The password
must appear nowhere: not in logs, Snakemake's params and metadata, nor any file it leaves.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from pose3d.testing.config import REPO_ROOT, tiny_config_dict
from pose3d.testing.rclone_server import PASSWORD, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.rclone,
    pytest.mark.skipif(shutil.which("rclone") is None, reason="the rclone binary is not installed"),
]


def files_containing(folder, secrets):
    """Files below `folder` whose bytes contain any of `secrets`."""
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{path} holds {secret!r}" for secret in secrets if secret.encode() in data]
    return hits


def test_shards_on_a_remote_and_training_through_the_cache_leak_no_password(tmp_path):
    workdir, served, cache_dir = tmp_path / "work", tmp_path / "served", tmp_path / "cache"
    workdir.mkdir()
    server = start_server("webdav", served, tmp_path / "server.log")
    try:
        config = tiny_config_dict(
            workdir / "resources" / "synthetic",
            dataset={"actions": [2], "cameras": [1], "subactions": [1, 2]},  # S1: two takes, one for validation
            models=["transformer"],
            infer={"enabled": False},
            train={"batch_size": 2},
            storage={"remote": f"{server.remote}:data", "cache_dir": str(cache_dir)},
        )
        configfile = tmp_path / "remote.yaml"
        configfile.write_text(yaml.safe_dump(config))
        command = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory",
                   str(workdir), "--configfile", str(configfile), "--cores", "2", "--nocolor"]

        first = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        output = first.stdout + first.stderr
        assert first.returncode == 0, output[-6000:]
        remote_dir = served / "data"
        on_remote = sorted(str(path.relative_to(remote_dir)) for path in remote_dir.rglob("*.h5"))
        assert on_remote == [
            "results/chunks/S1.h5", "results/chunks/S9.h5",
            "results/shuffled/train/shard_00000.h5", "results/shuffled/train/shard_00001.h5",
            "results/split/test/shard_00000.h5",
            "results/split/train/shard_00000.h5", "results/split/train/shard_00001.h5",
            "results/split/val/shard_00000.h5",
        ]
        assert not (workdir / "results" / "chunks").exists(), "data-stage outputs must not stay local"
        assert len(list(cache_dir.glob("*.h5"))) == 4, "train and evaluate read 2 train + 1 val + 1 test shard via the cache"
        assert (workdir / "results" / "eval" / "transformer" / "metrics.json").is_file()

        second = subprocess.run([*command, "-n"], capture_output=True, text=True, timeout=300, check=False)
        output += second.stdout + second.stderr
        assert second.returncode == 0 and "Nothing to be done" in second.stdout + second.stderr
    finally:
        server.stop()

    secrets = [PASSWORD, server.obscured_password]
    train_log = (workdir / "results" / "logs" / "train" / "transformer.log").read_text()
    assert "caching shard" in train_log and "pass=***" in train_log  # the log names the remote, redacted
    leaks = files_containing(workdir / "results", secrets) + files_containing(workdir / ".snakemake", secrets)
    leaks += [f"Snakemake's output holds {secret!r}" for secret in secrets if secret in output]
    assert not leaks, "\n".join(leaks)
