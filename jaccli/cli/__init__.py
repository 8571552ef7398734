from .app import app
from .main import app_commands, entry, main

__all__ = ["app", "app_commands", "entry", "main"]
