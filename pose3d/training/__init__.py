"""Training: the streaming shard dataset, augmentation, losses and the trainer."""
