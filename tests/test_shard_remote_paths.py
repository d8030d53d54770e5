"""Remote shard paths are recognised, and credentials never reach an error message."""

from __future__ import annotations

import pytest

from pose3d.shards.reader import ShardCache, ShardError, is_remote, rclone_fetch, rclone_stat, redact_secrets


@pytest.mark.parametrize(
    ("path", "remote"),
    [
        ("onedrive:h36m/shard_00000.h5", True),
        ("rclone:onedrive:h36m/shard_00000.h5", True),
        (":local:/tmp/shard.h5", True),
        (":webdav,url='http://127.0.0.1:8080',user=u,pass=secret:h36m/shard.h5", True),
        ("results/split/train/shard_00000.h5", False),
        ("/abs/shard.h5", False),
        ("C:/windows/drive.h5", False),
    ],
)
def test_is_remote(path, remote):
    assert is_remote(path) is remote


def test_redaction_hides_passwords_and_tokens():
    text = ":webdav,url='http://h:1',user=alice,pass=s3cr3t:x.h5 failed: token=abc123"
    redacted = redact_secrets(text)
    assert "s3cr3t" not in redacted and "abc123" not in redacted
    assert "user=alice" in redacted


def test_failed_fetch_names_the_file_without_the_password(tmp_path):
    source = ":webdav,url='http://127.0.0.1:9',pass=hunter2:h36m/shard_00001.h5"
    cache = ShardCache(tmp_path / "cache", fetch=lambda s, d: rclone_fetch(s, d, retries=1),
                       stat=lambda s: rclone_stat(s, retries=1))
    with pytest.raises(ShardError) as error:
        cache.local_path(source)
    assert "shard_00001.h5" in str(error.value)
    assert "hunter2" not in str(error.value)
