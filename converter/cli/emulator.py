"""Command ``converter emulator``: the local FX API for rehearsals and tests.

Every way it cannot start is one Japanese line and exit 2: a non-loopback ``--host`` without a
token of its own (the demo token is public), a port in use, a ``--store`` that is not the
emulator's JSON-lines file, a rate outside 0–1 (click's range check).
"""

from __future__ import annotations

import errno
import ipaddress
import sys
from pathlib import Path

import click

RATE = click.FloatRange(0.0, 1.0)
DEMO_TOKEN = "emulator-token"  # the emulator's default token: written in the README and the tests


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def fail(message: str) -> None:
    click.echo(f"エラー: {message}", err=True)
    sys.exit(2)


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, metavar="番号",
              help="待ち受けるポート (0: 空いている番号)。")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="アドレス",
              help="待ち受けるアドレス。このマシンの外から届くアドレスには --token が必要です。")
@click.option("--token", default=None, metavar="トークン",
              help=f"受け付けるトークン (既定: {DEMO_TOKEN}、--host が 127.0.0.1 などのときだけ)。")
@click.option("--store", "store_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="ファイル",
              help="登録した仕訳をこの JSON Lines ファイルに追記します (起動時に読み込みます)。")
@click.option("--fail-503-rate", type=RATE, default=0.0, metavar="割合",
              help="503 で断る取込の割合 (0〜1)。")
@click.option("--retry-after", type=click.IntRange(min=0), default=1, show_default=True, metavar="秒",
              help="503/429 の Retry-After の秒数。")
@click.option("--slow-seconds", type=click.FloatRange(min=0.0), default=0.0, metavar="秒",
              help="応答をこの秒数だけ遅らせます …")
@click.option("--slow-rate", type=RATE, default=1.0, show_default=True, metavar="割合",
              help="… 取込のこの割合 (0〜1) で。")
@click.option("--drop-rate", type=RATE, default=0.0, metavar="割合",
              help="登録した後、応答せずに接続を切る取込の割合 (0〜1)。")
@click.option("--extra-customers", type=click.IntRange(min=0), default=0, metavar="件数",
              help="架空の取引先を N 件加えます (ページ送りの試験用)。")
@click.option("--random-seed", type=int, default=0, show_default=True, metavar="整数",
              help="障害を起こす取込を選ぶ乱数の種。")
@click.option("--ocode", "ocodes", multiple=True, metavar="OCODE",
              help="エミュレーターが受け付ける企業コード (繰り返し指定できます。既定: サンプル会社の tc09999001)。"
                   "会社ごとにサンプルのマスターの写しを持ちます。")
@click.option("--locale", default=None, metavar="LOCALE", help="URL のシステム識別子 (既定: tfa)。")
@click.option("--auto-numbering", is_flag=True,
              help="伝票番号を FX が付番する会社にします (inpjourconfig の is_auto_numbering_journo: true)。")
def emulator(port: int, host: str, token: str | None, store_path: Path | None, fail_503_rate: float,
             retry_after: int, slow_seconds: float, slow_rate: float, drop_rate: float, extra_customers: int,
             random_seed: int, ocodes: tuple[str, ...], locale: str | None, auto_numbering: bool) -> None:
    """FX API のエミュレーターを起動します (本番前の練習と試験用)。"""
    from converter.emulator.server import EmulatorStartError, load_seed, run_server

    if not is_loopback(host) and (not token or token == DEMO_TOKEN):
        fail(f"--host {host} はこのマシンの外から届くアドレスです。--token で推測されにくいトークンを"
             f"指定してください (既定のトークン {DEMO_TOKEN} は公開されているため、ネットワークでは使えません)")
    seed = None
    if auto_numbering:
        seed = load_seed(None)
        seed["inpjourconfig"] = {"is_auto_numbering_journo": True}
    try:
        run_server(port, host=host, token=token or DEMO_TOKEN, store_path=store_path, fail_503_rate=fail_503_rate,
                   retry_after=retry_after, slow_seconds=slow_seconds, slow_rate=slow_rate,
                   drop_after_store_rate=drop_rate, extra_customers=extra_customers, random_seed=random_seed,
                   ocodes=list(ocodes) or None, locale=locale, seed=seed)
    except EmulatorStartError as err:
        if err.line:
            fail(f"--store のファイル {err.path} の {err.line} 行目はエミュレーターの記録 (JSON Lines: 1 行に"
                 f" 1 件の JSON) ではありません ({err.reason})。別のファイルを指定してください")
        fail(f"--store のファイル {err.path} を読めません ({err.reason})。別のファイルを指定してください")
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            fail(f"ポート {port} は使用中です (別の converter emulator が動いていませんか)。"
                 "止めるか、--port で別の番号を指定してください")
        fail(f"{host}:{port} で待ち受けできません ({err.strerror or err})。--host と --port を確かめてください")

