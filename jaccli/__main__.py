from .daemon.client import entry

entry()
