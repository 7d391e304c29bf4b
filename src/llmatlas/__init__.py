"""llmatlas: find, size and self-host open-weight LLMs."""

__version__ = "0.1.0"
