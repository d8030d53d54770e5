"""Fixtures shared by the tests and the benchmarks, importable without the test suite.

- `samples`: the one fake-sample generator (exact 2D projections of 3D joints) and its template skeleton
- `shards`: preprocessed files and finished shards written from those samples
- `config`: the default config shrunk to seconds of work
- `tiny_models`: random-weight YOLO pose and DepthPro saved to disk, loaded through the real code
- `rclone_server`: `rclone serve webdav|sftp` on 127.0.0.1
- `slurm_cluster`: a one-node SLURM cluster (root, slurm-wlm, munge)

Nothing here is imported by the pipeline itself.
"""
