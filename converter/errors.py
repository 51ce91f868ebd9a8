"""Every error the converter raises on purpose, in one tree.

::

    ConverterError                  anything the CLI turns into a clean message (never a traceback)
    ├── InputError                  a source file cannot be read (missing, encoding, columns, sheet, hostile size)
    ├── BadOptionValue              a value given on the command line (or manifest) the run cannot use:
    │                               an unknown --kinds / --exclude-status value (a typo must not skip a month)
    ├── ConfigError                 settings / mapping / profile YAML is wrong (lists every problem;
    │                               each a str, a ConfigProblem where the YAML line/column is known)
    ├── ProblemsFound               the data was read but has problems (carries the Problem list)
    ├── LedgerError                 the ledger file cannot be used
    │   ├── LedgerLocked            another run holds the ledger of this company (any name of the file)
    │   ├── LedgerMissing           no ledger at the path: never created implicitly (converter ledger init)
    │   └── LedgerDamaged           fails integrity_check or the ledger's own rules; names the newest backup
    └── FXAPIError                  the FX API answered in a way that stops the run (404: ocode/locale)
        ├── FXAuthError             401 / 403: token or permission
        ├── FXFormatError           406: the API refused the format
        └── FXResponseError         an answer that does not match the reference schema

Exit codes (cli): 0 success, 1 problems in the data or documents needing attention (also a
``--corrections`` run the mass-change guard held back: nothing sent, re-run with ``--yes``),
2 usage / configuration / authentication; 3 (:data:`EXIT_NOT_WRITTEN`) an upload that sent
everything (all 連携完了) but could not write its review workbook (``-o``, e.g. a full disk).

A :class:`Problem` is one finding about the data (not an exception): file, row as Excel shows
it, column as the source header names it, the value, the rule it broke and what to do.
Messages are Japanese because accountants read them; the FX field name sits next to the term.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Exit code of an upload that did all it had to (exit 0 otherwise) but could not write the review
#: workbook afterwards: the send is not undone and must not read as a usage error (2).
EXIT_NOT_WRITTEN = 3

#: Characters of a value from the input that a message echoes (a 摘要 of 200 MB was printed whole).
SHOWN_VALUE = 120


def cut_value(value: str, limit: int = SHOWN_VALUE) -> str:
    """``value`` as a message shows it: whole up to ``limit`` characters, else its start, … and its length."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}…(全 {len(value):,} 文字)"


@dataclass(frozen=True)
class Problem:
    """One finding about the input, reported as file / row / column / value / rule / message.

    ``value`` is cut to SHOWN_VALUE characters (with … and the full length) everywhere it is read:
    the screen, the review workbook (a cell holds at most 32,767) and ``--format json``; the whole
    value is in the source file at file/row/column."""

    file: str
    row: int | None
    column: str
    value: str
    rule: str
    message: str
    document: str = ""
    col: int | None = None  # 1-based column in the file where known (YAML mapping problems)

    def __post_init__(self) -> None:
        if len(self.value) > SHOWN_VALUE:
            object.__setattr__(self, "value", cut_value(self.value))

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "col": self.col,
            "column": self.column,
            "value": self.value,
            "rule": self.rule,
            "message": self.message,
            "document": self.document,
        }

    def location(self) -> str:
        where = self.file
        if self.row is not None:
            where += f":{self.row}行"
            if self.col is not None:
                where += f"{self.col}列目"
        if self.column:
            where += f" [{self.column}]"
        return where


class ConverterError(Exception):
    """Base class: the CLI prints ``str(err)`` and exits with ``exit_code``."""

    exit_code = 2

    def __init__(self, message: str, *, file: str = "", row: int | None = None) -> None:
        self.file = file
        self.row = row
        prefix = ""
        if file:
            prefix = f"{file}:{row}行: " if row is not None else f"{file}: "
        super().__init__(prefix + message)


class InputError(ConverterError):
    """A source file that cannot be read at all."""


class BadOptionValue(ConverterError):
    """A value of an option the input shows to be wrong (e.g. ``--kinds 売り上げ``): a usage
    error, exit 2, naming the option and the values it accepts."""

    def __init__(self, option: str, unknown: Sequence[str], accepted: Sequence[str]) -> None:
        self.option, self.unknown, self.accepted = option, list(unknown), list(accepted)
        listed = f"使える値: {'、'.join(accepted)}" if accepted else "この入力にはこの項目の値がありません"
        super().__init__(f"{option} に使えない値があります: {'、'.join(unknown)}。{listed}")


class ConfigProblem(str):
    """One configuration problem's text (as ConfigError lists it) that also knows where it is:
    the YAML file, its 1-based line and column, and a rule id — for CI annotations.

    A ``str`` so every place that joins or prefixes problem texts keeps working unchanged."""

    file: str
    line: int | None
    col: int | None
    rule: str
    message: str  # the text without its "file:N行:" prefix (the position says it)

    def __new__(cls, text: str, *, file: str = "", line: int | None = None, col: int | None = None,
                rule: str = "mapping", message: str = "") -> ConfigProblem:
        self = super().__new__(cls, text)
        self.file, self.line, self.col, self.rule = file, line, col, rule
        self.message = message or text
        return self

    def retext(self, text: str, *, file: str = "") -> ConfigProblem:
        """The same position, message (and ``file`` when not known yet) under another text."""
        return ConfigProblem(text, file=self.file or file, line=self.line, col=self.col, rule=self.rule,
                             message=self.message)


def retext(problem: str, text: str, *, file: str = "") -> str:
    """``text`` keeping ``problem``'s position when it has one (ConfigProblem)."""
    if isinstance(problem, ConfigProblem):
        return problem.retext(text, file=file)
    return ConfigProblem(text, file=file) if file else text


class ConfigError(ConverterError):
    """Configuration problems, collected: one error names the file and every bad key."""

    def __init__(self, file: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"設定ファイルに問題があります ({len(self.problems)} 件):\n{body}", file=file)


class ProblemsFound(ConverterError):
    """The input was read but breaks rules; nothing may be sent."""

    exit_code = 1

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(f"エラー {len(self.problems)} 件 — 送信できません")


class LedgerError(ConverterError):
    """The ledger database is unusable (corrupt, wrong company, unwritable)."""


class LedgerLocked(LedgerError):
    """Another run is using this company's ledger."""


class LedgerMissing(LedgerError):
    """There is no ledger at the path. Creating one there would forget what FX holds (every slip
    would be posted again), so it is only ever made by ``converter ledger init``."""

    def __init__(self, path: str, *, init_command: str = "") -> None:
        self.path = path
        command = init_command or f"converter ledger init --ledger {path}"
        super().__init__(
            "台帳がありません。この会社の最初の連携なら、先に台帳を作成してください:"
            f" {command}\n"
            "台帳を移動・削除した場合は作り直さず、元の場所に戻すか converter ledger restore で"
            "バックアップから復元してください (新しい台帳では連携済みの帳票がもう一度送信されます)",
            file=path)


class LedgerDamaged(LedgerError):
    """The ledger file is damaged (zero length, not a ledger, integrity_check or the ledger's own
    rules failed). Nothing is sent; the message names the newest backup and how to restore it."""

    def __init__(self, message: str, *, path: str, backup: str = "", detail: str = "") -> None:
        self.path = path
        self.backup = backup
        self.detail = detail or message  # what was found, without the advice
        super().__init__(message, file=path)


class FXAPIError(ConverterError):
    """The FX API answered in a way that stops the run."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class FXAuthError(FXAPIError):
    """401 (token) or 403 (permission)."""


class FXFormatError(FXAPIError):
    """406: the API accepts JSON only."""


class FXResponseError(FXAPIError):
    """The answer is not what the reference documents."""
