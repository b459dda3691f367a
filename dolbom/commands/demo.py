"""`dolbom demo`: the whole path on one laptop."""


def demo() -> None:
    """Run the embedded broker, store, cloud, a webhook receiver and one simulated robot."""
    raise NotImplementedError
