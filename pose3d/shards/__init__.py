"""HDF5 shards: the on-disk sample format between the data stages and training.

Importing the package registers hdf5plugin's filters with HDF5: depth maps are LZ4-compressed
(`pose3d.shards.writer.DEPTH_COMPRESSION`), and any h5py reader of a shard needs `import hdf5plugin`.
"""

import hdf5plugin  # noqa: F401  (registers LZ4 and the other plugin filters)
