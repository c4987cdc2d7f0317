"""mypkg: a tiny package for the daily-workflow example."""

__version__ = "0.1"


def shout(text: str) -> str:
    """``text`` in capitals, with an exclamation mark."""
    return text.upper() + "!"
