"""The one mapping of an exception to what the accountant reads (messages.failure), as the CLI's
error trap and a batch company both show it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from converter.cli import main
from converter.errors import ConfigError, FXAuthError, LedgerError, Problem, ProblemsFound
from converter.messages import INTERNAL_ERROR_HELP, Failure, failure


def test_each_kind_of_failure_reads_once() -> None:
    problems = ProblemsFound([Problem("a.csv", 2, "金額", "x", "rule", "直してください")])
    said = "エラー 1 件 — 送信できません。converter check で確認し、直してから送信してください"
    assert failure(problems) == Failure(said, 1)
    assert failure(LedgerError("台帳が壊れています", file="l.sqlite")) == Failure("l.sqlite: 台帳が壊れています", 2)
    auth = FXAuthError("認証に失敗しました (HTTP 401)", status=401)
    assert failure(auth) == Failure("認証に失敗しました (HTTP 401)", 2)
    assert failure(auth, token_env="FX_TOKEN_A").text == (
        "認証に失敗しました (HTTP 401) (この会社のトークンの環境変数: FX_TOKEN_A)")
    assert failure(ConfigError("settings.yaml", ["ocode: 必須です"])).exit_code == 2
    dropped = LedgerError("FX に接続できません (ConnectError)")
    assert failure(dropped).text == "FX に接続できません"  # what the accountant reads
    assert failure(dropped, technical=True).text == "FX に接続できません (ConnectError)"  # CONVERTER_DEBUG, json
    bug = failure(KeyError("boom"))
    assert bug == Failure(f"内部エラー: KeyError: 'boom' — {INTERNAL_ERROR_HELP}", 2, internal=True)


def test_the_cli_shows_a_bug_as_the_one_internal_error_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.delenv("CONVERTER_DEBUG", raising=False)
    monkeypatch.setattr("converter.cli.ledger.verify_ledger", broken)
    result = CliRunner().invoke(main, ["ledger", "verify"])
    assert result.exit_code == 2
    assert result.stderr == f"内部エラー: KeyError: 'boom' — {INTERNAL_ERROR_HELP}\n"
