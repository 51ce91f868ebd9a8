"""Command ``converter emulator``: the local FX API for rehearsals and tests."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--port", default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--token", default="emulator-token", show_default=True, help="Token the emulator accepts.")
@click.option("--store", "store_path", type=click.Path(path_type=Path), default=None,
              help="Append stored slips to this JSON-lines file (and load it at start).")
@click.option("--fail-503-rate", type=float, default=0.0, help="Share of imports answered 503.")
@click.option("--retry-after", type=int, default=1, show_default=True, help="Retry-After seconds on 503/429.")
@click.option("--slow-seconds", type=float, default=0.0, help="Delay answers by this many seconds …")
@click.option("--slow-rate", type=float, default=1.0, show_default=True, help="… for this share of imports.")
@click.option("--drop-rate", type=float, default=0.0, help="Share of imports stored, then dropped unanswered.")
@click.option("--extra-customers", type=int, default=0, help="Add N synthetic customers (paging tests).")
@click.option("--random-seed", type=int, default=0, show_default=True)
@click.option("--ocode", "ocodes", multiple=True, metavar="OCODE",
              help="企業コード the emulator serves (repeatable; default: tc09999001, the sample company). "
                   "Each gets its own copy of the sample masters.")
@click.option("--locale", default=None, metavar="LOCALE", help="システム識別子 in the URL (default: tfa).")
@click.option("--auto-numbering", is_flag=True,
              help="The company lets FX number 伝票番号 (inpjourconfig is_auto_numbering_journo: true).")
def emulator(port: int, host: str, token: str, store_path: Path | None, fail_503_rate: float, retry_after: int,
             slow_seconds: float, slow_rate: float, drop_rate: float, extra_customers: int, random_seed: int,
             ocodes: tuple[str, ...], locale: str | None, auto_numbering: bool) -> None:
    """Run the local FX API emulator (for rehearsals and tests)."""
    from converter.emulator.server import load_seed, run_server

    seed = None
    if auto_numbering:
        seed = load_seed(None)
        seed["inpjourconfig"] = {"is_auto_numbering_journo": True}
    run_server(port, host=host, token=token, store_path=store_path, fail_503_rate=fail_503_rate,
               retry_after=retry_after, slow_seconds=slow_seconds, slow_rate=slow_rate,
               drop_after_store_rate=drop_rate, extra_customers=extra_customers, random_seed=random_seed,
               ocodes=list(ocodes) or None, locale=locale, seed=seed)
