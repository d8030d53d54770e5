"""Evaluation of a trained model on the test shards, beside a mean-pose baseline measured in the same run."""
