"""Bad inputs the workflow meets before its first job: a real dataset where synthetic data would go,
a remote that is unknown, down, or refuses the password. Each is one short message, no traceback,
no credential, and nothing on disk changed. Dry runs: the checks run while the DAG is planned.

See tests/bad_inputs.py for what every case asserts; every case here ends in a clear error.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys

import pytest
import yaml

from pose3d.testing.config import REPO_ROOT, tiny_config_dict
from pose3d.testing.rclone_server import PASSWORD, obscure, start_server
from tests.bad_inputs import real_dataset_layout, snapshot

needs_rclone = pytest.mark.skipif(shutil.which("rclone") is None, reason="the rclone binary is not installed")


def dry_run(tmp_path, config: dict) -> tuple[int, str]:
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "-d", str(tmp_path),
                           "--configfile", str(configfile), "-n", "--nocolor"],
                          capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


def remote_config(tmp_path, **storage) -> dict:
    return tiny_config_dict(tmp_path / "resources" / "synthetic", dataset={"actions": [2], "cameras": [1]},
                            models=["transformer"], infer={"enabled": False}, storage=storage)


def test_error_workflow_never_synthesizes_over_a_real_dataset(tmp_path):
    root = tmp_path / "h36m"
    real_dataset_layout(root)
    before = snapshot(root)
    code, output = dry_run(tmp_path, tiny_config_dict(root))  # dataset.source: synthetic
    assert code == 1 and str(root) in output and "annotations" in output and "dataset.root" in output
    assert "Traceback" not in output and snapshot(root) == before


@needs_rclone
@pytest.mark.rclone
def test_error_workflow_unknown_remote_is_one_line(tmp_path):
    code, output = dry_run(tmp_path, remote_config(tmp_path, remote="nosuchremote:h36m"))
    assert code == 1 and "storage.remote" in output and "nosuchremote" in output
    assert "didn't find section in config file" in output
    assert "Traceback" not in output and "ExceptionGroup" not in output and len(output.splitlines()) < 10


@needs_rclone
@pytest.mark.rclone
def test_error_workflow_missing_rclone_config_file(tmp_path):
    code, output = dry_run(tmp_path, remote_config(tmp_path, remote="onedrive:h36m",
                                                   rclone_config=str(tmp_path / "rclone.conf")))
    assert code == 1 and "storage.rclone_config" in output and "rclone.conf" in output and "does not exist" in output
    assert "section" not in output


@needs_rclone
@pytest.mark.rclone
def test_error_workflow_server_down_names_the_remote_without_password(tmp_path):
    obscured = obscure(PASSWORD)
    remote = f":webdav,url='http://127.0.0.1:9',user=pose3d,pass={obscured}:h36m"
    code, output = dry_run(tmp_path, remote_config(tmp_path, remote=remote, retries=1))
    assert code == 1 and "storage.remote" in output and "127.0.0.1:9" in output and "connection refused" in output
    assert "pass=***" in output and obscured not in output and PASSWORD not in output
    assert "Traceback" not in output


@needs_rclone
@pytest.mark.rclone
def test_error_workflow_wrong_password_is_one_line_without_password(tmp_path):
    server = start_server("webdav", tmp_path / "served", tmp_path / "server.log")
    wrong = obscure("not-the-password")
    try:
        remote = f":webdav,url='http://127.0.0.1:{server.port}',user=pose3d,pass={wrong}:h36m"
        code, output = dry_run(tmp_path, remote_config(tmp_path, remote=remote))
    finally:
        server.stop()
    assert code == 1 and "storage.remote" in output and "401" in output and "failed after 1 attempt" in output
    assert wrong not in output and "not-the-password" not in output and "Traceback" not in output


@needs_rclone
@pytest.mark.rclone
def test_error_plugin_wrong_password_is_a_workflow_error_without_retries(tmp_path, caplog):
    """The storage plugin itself: rclone's reason in a WorkflowError, and no retry of a refused login."""
    from snakemake_interface_common.exceptions import WorkflowError

    from snakemake_storage_plugin_rclone import StorageProvider, StorageProviderSettings

    server = start_server("webdav", tmp_path / "served", tmp_path / "server.log")
    wrong = obscure("not-the-password")
    try:
        provider = StorageProvider(local_prefix=tmp_path / "prefix", logger=logging.getLogger("bad-inputs"),
                                   settings=StorageProviderSettings(retries=3, retries_sleep=0.05))
        query = f":webdav,url='http://127.0.0.1:{server.port}',user=pose3d,pass={wrong}:h36m/shard_00000.h5"
        with caplog.at_level(logging.WARNING), pytest.raises(WorkflowError) as raised:
            provider.object(query).exists()
    finally:
        server.stop()
    message = str(raised.value)
    assert "h36m/shard_00000.h5" in message and "401" in message and "after 1 attempt" in message
    assert wrong not in message + caplog.text and "retrying" not in caplog.text


@needs_rclone
@pytest.mark.rclone
def test_handled_inline_remote_becomes_a_credential_free_named_remote(tmp_path, monkeypatch):
    """The query Snakemake sees names an environment-defined remote; rclone reads the same files."""
    from snakemake_storage_plugin_rclone.query import parse_query, remote_in_environment

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.h5").write_bytes(b"shard")
    inline = parse_query(f":local,links=true,pass=hunter2-obscured:{tmp_path}/data")
    named, env = remote_in_environment(inline)
    assert "hunter2" not in str(named) and named.name.startswith("pose3d_local_") and not named.params
    assert env[f"RCLONE_CONFIG_{named.name.upper()}_TYPE"] == "local"
    assert env[f"RCLONE_CONFIG_{named.name.upper()}_PASS"] == "hunter2-obscured"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    listed = subprocess.run(["rclone", "lsjson", "--no-mimetype", str(named)], capture_output=True, text=True,
                            check=True)
    assert '"Path":"x.h5"' in listed.stdout
    assert remote_in_environment(parse_query("onedrive:h36m")) == (parse_query("onedrive:h36m"), {})
