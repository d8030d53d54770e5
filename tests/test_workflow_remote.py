"""The whole DAG with `storage.remote` set: data-stage shards live on an rclone remote.

The remote is rclone's on-the-fly `:local:` backend (the real rclone binary and the real
storage plugin, no server needed; the plugin's own tests cover WebDAV and SFTP servers).
Training and evaluation read the shards through the local shard cache, not through Snakemake.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from pose3d.testing.config import REPO_ROOT, tiny_config_dict

pytestmark = [
    pytest.mark.slow,
    pytest.mark.rclone,
    pytest.mark.skipif(shutil.which("rclone") is None, reason="the rclone binary is not installed"),
]


def test_shards_on_a_remote_and_training_through_the_cache(tmp_path):
    workdir, remote_dir, cache_dir = tmp_path / "work", tmp_path / "remote", tmp_path / "cache"
    workdir.mkdir()
    remote_dir.mkdir()
    config = tiny_config_dict(
        workdir / "resources" / "synthetic",
        dataset={"actions": [2], "cameras": [1]},
        models=["transformer"],
        infer={"enabled": False},
        train={"batch_size": 2},
        storage={"remote": f":local:{remote_dir}", "cache_dir": str(cache_dir)},
    )
    configfile = tmp_path / "remote.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), "--cores", "2", "--nocolor"]

    first = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert first.returncode == 0, (first.stdout + first.stderr)[-6000:]
    on_remote = sorted(str(path.relative_to(remote_dir)) for path in remote_dir.rglob("*.h5"))
    assert on_remote == [
        "results/chunks/S1.h5", "results/chunks/S9.h5",
        "results/shuffled/train/shard_00000.h5", "results/shuffled/train/shard_00001.h5",
        "results/split/test/shard_00000.h5",
        "results/split/train/shard_00000.h5", "results/split/train/shard_00001.h5",
    ]
    assert not (workdir / "results" / "chunks").exists(), "data-stage outputs must not stay local"
    assert len(list(cache_dir.glob("*.h5"))) == 3, "train and evaluate read 2 train + 1 test shard via the cache"
    assert (workdir / "results" / "eval" / "transformer" / "metrics.json").is_file()

    second = subprocess.run([*command, "-n"], capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0 and "Nothing to be done" in second.stdout + second.stderr
