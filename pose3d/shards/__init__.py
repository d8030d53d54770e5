"""HDF5 shards: the on-disk sample format between the data stages and training."""
