"""The one error a shard problem raises, wherever in the reading it is found."""


class ShardError(RuntimeError):
    """A shard cannot be used; the message names the file and the problem."""
