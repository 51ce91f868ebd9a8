"""click's own texts in Japanese: the help page's headings, usage errors, type errors.

click writes its texts through ``gettext`` (``from gettext import gettext as _`` in each of its
modules). A catalogue chosen by the machine's locale would leave an accountant with ``LANG=C``
(cron, CI, a fresh server) in English, so the CLI installs its own: each click module's ``_`` and
``ngettext`` are replaced by lookups in :data:`TEXTS`. Texts not listed (programming errors
such as "Name defined twice") stay as click wrote them.

:func:`use_japanese` must run before any command is declared (``version_option`` reads its help
text at declaration); :mod:`converter.cli` calls it first. :func:`localise` then gives every
command of the group Japanese usage metavars (``[オプション]``, ``コマンド [引数]...``).
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from typing import Any

import click
import click._textwrap
from click._compat import strip_ansi

#: English value → Japanese, for the words click formats into its sentences (type names).
WORDS = {
    "integer": "整数", "integer range": "整数", "float": "数値", "float range": "数値",
    "file": "ファイル", "directory": "フォルダ", "path": "パス", "text": "文字列",
    "File": "ファイル", "Directory": "フォルダ", "Path": "パス",
}

#: click's msgid → Japanese. Placeholders as click passes them; ``{value}`` is shown in 「」.
TEXTS: dict[str, str] = {
    # the help page
    "Usage:": "使い方:",
    "Options": "オプション",
    "Commands": "コマンド",
    "Positional arguments": "引数",
    "Show this message and exit.": "この説明を表示して終了します。",
    "Show the version and exit.": "バージョンを表示して終了します。",
    "%(prog)s, version %(version)s": "%(prog)s バージョン %(version)s",
    "default: {default}": "既定値: {default}",
    "required": "必須",
    "env var: {var}": "環境変数: {var}",
    "(dynamic)": "(実行時に決定)",
    "deprecated": "非推奨",
    "Do you want to continue?": "続けますか?",
    "Confirm the action without prompting.": "確認せずに実行します。",
    # usage errors
    "Error: {message}": "エラー: {message}",
    "Try '{command} {option}' for help.": "説明は '{command} {option}' で表示できます。",
    "Aborted!": "中断しました",
    "Missing command.": "コマンドを指定してください",
    "Missing argument": "引数が足りません:",
    "Missing option": "必須のオプションがありません:",
    "Missing parameter": "指定が足りません:",
    "Missing {param_type}": "指定が足りません ({param_type}):",
    "Missing parameter: {param_name}": "指定が足りません: {param_name}",
    "No such option {name!r}.": "そのようなオプションはありません: {name}",
    "No such command {name!r}.": "そのようなコマンドはありません: {name}",
    "Did you mean {possibility}?": "(もしかして {possibility})",
    "(Did you mean one of: {possibilities}?)": "(もしかして {possibilities} のどれか)",
    "Got unexpected extra argument ({args})": "余分な引数があります: {args}",
    "Got unexpected extra arguments ({args})": "余分な引数があります: {args}",
    "Option {name!r} requires an argument.": "オプション {name} には値を続けてください",
    "Option {name!r} requires {nargs} arguments.": "オプション {name} には値を {nargs} 個続けてください",
    "Option {name!r} does not take a value.": "オプション {name} は値を取りません",
    "Argument {name!r} takes {nargs} values.": "引数 {name} には値が {nargs} 個必要です",
    "Takes {nargs} values but 1 was given.": "値が {nargs} 個必要ですが 1 個です",
    "Takes {nargs} values but {len} were given.": "値が {nargs} 個必要ですが {len} 個です",
    "{len_type} values are required, but {len_value} was given.": "値が {len_type} 個必要ですが {len_value} 個です",
    "{len_type} values are required, but {len_value} were given.": "値が {len_type} 個必要ですが {len_value} 個です",
    "Value must be an iterable.": "値を並べて指定してください",
    "Invalid value: {message}": "値が正しくありません: {message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} の値が正しくありません: {message}",
    "Choose from:\n\t{choices}": "使える値:\n\t{choices}",
    "{value!r} is not {choice}.": "「{value}」は使えません。使える値: {choice}",
    "{value!r} is not one of {choices}.": "「{value}」は使えません。使える値: {choices}",
    "{value!r} does not match the format {format}.": "「{value}」は読めません。{format} の形で指定してください",
    "{value!r} does not match the formats {formats}.":
        "「{value}」は読めません。{formats} のどれかの形で指定してください",
    "{value!r} is not a valid {number_type}.": "「{value}」は{number_type}ではありません",
    "{value} is not in the range {range}.": "{value} は範囲外です (使える範囲: {range})",
    "{value!r} is not a valid boolean. Recognized values: {states}": "「{value}」は使えません。使える値: {states}",
    "{value!r} is not a valid UUID.": "「{value}」は UUID ではありません",
    "{name} {filename!r} does not exist.": "{name}「{filename}」がありません",
    "{name} {filename!r} is a file.": "「{filename}」はファイルです ({name}を指定してください)",
    "{name} {filename!r} is a directory.": "「{filename}」はフォルダです ({name}を指定してください)",
    "{name} {filename!r} is not readable.": "{name}「{filename}」を読めません (権限を確かめてください)",
    "{name} {filename!r} is not writable.": "{name}「{filename}」に書き込めません (権限を確かめてください)",
    "{name} {filename!r} is not executable.": "{name}「{filename}」を実行できません",
    "Could not open file {filename!r}: {message}": "ファイル「{filename}」を開けません: {message}",
    "unknown error": "不明なエラー",
    # prompts
    "Repeat for confirmation": "確認のためもう一度入力してください",
    "Error: The two entered values do not match.": "エラー: 入力した 2 つの値が一致しません",
    "Error: invalid input": "エラー: 入力が正しくありません",
    "Press any key to continue...": "何かキーを押すと続けます…",
}

#: The click modules whose ``_`` / ``ngettext`` are replaced.
CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils")


class _Japanese(str):
    """A translated text whose ``format`` also translates the English words click passes in
    (``integer`` → 整数) and drops the period click appends after a Japanese sentence."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> str:
        kwargs = {k: WORDS.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
        message = kwargs.get("message")
        if isinstance(message, str) and message.endswith(".") and not message.endswith(".."):
            # "Missing argument 'X'." is assembled by click after the translated part.
            kwargs["message"] = message[:-1]
        return str.format(self, *args, **kwargs)


def gettext(message: str) -> str:
    text = TEXTS.get(message)
    return message if text is None else _Japanese(text)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


def display_width(x: str) -> int:
    """Terminal columns of ``x``: 全角 characters take two (click counts characters)."""
    plain = strip_ansi(x)
    return len(plain) + sum(unicodedata.east_asian_width(ch) in ("F", "W") for ch in plain)


#: Japanese line breaking (禁則): never at the start of a line / never at the end of one.
NOT_AT_LINE_START = frozenset("、。，．）)]」』】〕・：:；;！？!?ー…,.")
NOT_AT_LINE_END = frozenset("（([「『【〔")
_PIECES = re.compile(r"[^\u1100-\uffff]+|.", re.DOTALL)  # a run of narrow characters, or one other


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("F", "W")


class JapaneseWrapper(click._textwrap.TextWrapper):
    """click's wrapper, able to break a line between two Japanese characters (which have no
    spaces between them), not before 。、) nor after (「."""

    def _split(self, text: str) -> list[str]:
        chunks: list[str] = []
        for chunk in super()._split(text):
            if not any(_wide(ch) for ch in chunk):
                chunks.append(chunk)
                continue
            pieces: list[str] = []
            for piece in _PIECES.findall(chunk):
                if pieces and (piece[0] in NOT_AT_LINE_START or pieces[-1][-1] in NOT_AT_LINE_END):
                    pieces[-1] += piece
                else:
                    pieces.append(piece)
            chunks += pieces
        return chunks


def use_japanese() -> None:
    """Make click speak Japanese in this process (idempotent); the help page is laid out by
    display width (全角 = two columns), so Japanese metavars line up and help text wraps
    between Japanese characters."""
    click.formatting.term_len = display_width  # type: ignore[attr-defined]  # re-exported from click._compat
    click._textwrap.term_len = display_width  # type: ignore[attr-defined]
    click._textwrap.TextWrapper = JapaneseWrapper  # type: ignore[misc]
    for name in CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]


#: Metavars for options and arguments that do not name one, by click type name.
METAVARS = {"integer": "整数", "integer range": "整数", "float": "数値", "float range": "数値",
            "text": "文字列", "path": "パス", "filename": "ファイル"}


def localise(command: click.Command) -> None:
    """Japanese usage metavars for ``command`` and every command under it: ``[オプション]``,
    ``コマンド [引数]...`` and, for a parameter that names none, one by its type (``整数``)."""
    command.options_metavar = "[オプション]"
    if isinstance(command, click.Group):
        command.subcommand_metavar = "コマンド [引数]..."
        for sub in command.commands.values():
            localise(sub)
    for param in command.params:
        if param.metavar is None and not (isinstance(param, click.Option) and param.is_flag):
            name = METAVARS.get(param.type.name)
            if name is not None:
                param.metavar = name + ("..." if param.nargs != 1 else "")
