"""Command line: one module per command group; commands parse options, call the library, render."""

from converter.cli.japanese import use_japanese

use_japanese()  # before any command is declared: click reads some texts at declaration

from converter.cli.app import main  # noqa: E402

__all__ = ["main"]
