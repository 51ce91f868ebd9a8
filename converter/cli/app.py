"""The ``converter`` command group: every command, registered from its own module.

Exit codes: see :mod:`converter.cli._common`.
"""

from __future__ import annotations

import gc

import click

from converter.cli.batch import batch
from converter.cli.convert import check, preview
from converter.cli.emulator import emulator
from converter.cli.history import forget, history, resolve
from converter.cli.japanese import localise
from converter.cli.ledger import ledger
from converter.cli.masters import mappings, masters
from converter.cli.upload import retry, upload


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jobcan-fx-converter")
def main() -> None:
    """ジョブカン見積/請求書の取引明細を TKC FX クラウドの仕訳に変換します。"""
    # A big month keeps ~10⁶ small objects alive to the end of the run (one record per document in
    # the plan and the ledger's answers); with the default thresholds the collector scans them over
    # and over. The run makes few reference cycles, so it collects them less often (measured: see
    # bench/README.md, "History").
    gc.set_threshold(100_000, 50, 100)


for command in (check, preview, upload, retry, history, resolve, forget, emulator, batch, ledger, masters, mappings):
    main.add_command(command)
localise(main)
