"""Command line: one module per command group; commands parse options, call the library, render."""

from converter.cli.app import main

__all__ = ["main"]
