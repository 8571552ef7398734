from .app import app, entry, main

__all__ = ["app", "entry", "main"]
