"""Settings and input profiles: YAML loaded once, every problem collected into one ConfigError.

``mappings/settings.yaml`` holds what does not change per run (company ``ocode``, ``locale``,
``cd_coopsystem``, base URL, ``is_add_*master``); ``mappings/profiles/NAME.yaml`` says how a
source file is laid out. Profiles are looked up in the mappings folder first, then among the
built-in ones shipped with the package, so a user can override header spellings without code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from converter.errors import ConfigError, ConfigProblem
from converter.fx_rules import CODE_HINTS, COMPANY_RULES, FLAGS_0_1, is_code
from converter.keys import IDENTITIES, Identity
from converter.ledger.safety import DEFAULT_KEEP

BUILTIN_PROFILES = Path(__file__).parent / "profiles"

#: Canonical source fields every profile maps onto.
CANONICAL_FIELDS = (
    "flag", "date", "kind", "doc_no", "status", "closed", "customer_code", "customer",
    "dr_account", "dr_sub_account", "dr_department", "dr_tax", "dr_amount", "dr_tax_amount",
    "cr_account", "cr_sub_account", "cr_department", "cr_tax", "cr_amount", "cr_tax_amount",
    "memo", "project",
)

ENCODINGS = ("auto", "utf-8", "utf-8-sig", "cp932")


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records each mapping's line (``__line__``) and where each of its keys and
    values stands (``__marks__``: key → ((line, col) of the key, (line, col) of the value), 1-based),
    the source text of each unquoted value YAML did not read as text (``__raw__``: ``cd_act: 0111``
    is the number 73, and the message must quote ``0111``), and collects duplicate keys."""

    duplicates: list[str]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        marks: dict[Any, tuple[tuple[int, int], tuple[int, int]]] = {}
        raw: dict[Any, str] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:  # [a, b]: 1 or {a: 1}: 2 — valid YAML, but no key of ours
                raise yaml.constructor.ConstructorError(
                    None, None, f"キーに {type(key).__name__} (リストや {{...}}) は使えません",
                    key_node.start_mark) from None
            at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                self.duplicates.append(ConfigProblem(f"{at[0]}行: キー '{key}' が重複しています", line=at[0],
                                                     col=at[1], rule="duplicate_key",
                                                     message=f"キー '{key}' が重複しています"))
            seen.add(key)
            marks.setdefault(key, (at, (value_node.start_mark.line + 1, value_node.start_mark.column + 1)))
            if (isinstance(value_node, yaml.ScalarNode) and value_node.style is None
                    and value_node.tag != "tag:yaml.org,2002:str"):
                raw.setdefault(key, value_node.value)
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        mapping["__marks__"] = marks
        mapping["__raw__"] = raw
        return mapping


def load_yaml(path: Path) -> tuple[Any, list[str]]:
    """Load a YAML file; return (data, problems). Mappings carry ``__line__``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(str(path), ["ファイルがありません"]) from None
    except UnicodeDecodeError as err:
        raise ConfigError(str(path), [f"UTF-8 で読めません ({err.reason})"]) from None
    try:
        loader = _LineLoader(text)  # the reader refuses control characters already here
    except yaml.YAMLError as err:
        raise ConfigError(str(path), [_syntax_problem(err, path, text)]) from None
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as err:
        raise ConfigError(str(path), [_syntax_problem(err, path, text)]) from None
    except RecursionError:
        raise ConfigError(str(path), ["YAML の入れ子が深すぎます"]) from None
    finally:
        loader.dispose()
    return data, [d.retext(d, file=str(path)) if isinstance(d, ConfigProblem) else d for d in loader.duplicates]


#: PyYAML's findings as an accountant reads them: (words of PyYAML's problem, Japanese sentence,
#: whether the place to show is where the construct began — an unclosed quote or bracket is found
#: only at the end of the file, but is to be fixed where it opens).
_INDENT = "字下げ (行頭の空白) がそろっていません。同じ階層のキーは同じ位置から書いてください"
_SYNTAX: tuple[tuple[str, str, bool], ...] = (
    ("found unexpected end of stream",
     "引用符 (\" または ') が閉じていません。値の終わりにも同じ引用符を書いてください", True),
    ("found unknown escape character",
     "\"…\" の中の \\ の使い方が誤っています。\\ を含む値は '…' (一重引用符) で囲んでください", False),
    ("expected ',' or '}'", "{ } が閉じていません。行の終わりの } と、項目の間のカンマ (,) を確認してください", True),
    ("expected ',' or ']'", "[ ] が閉じていません。行の終わりの ] と、項目の間のカンマ (,) を確認してください", True),
    ("mapping values are not allowed here", "ここには「キー: 値」を書けません。字下げ (行頭の空白) がずれていないか、"
     "値に「: 」が含まれていないか確認してください (「: 」を含む値は引用符で囲みます)", False),
    ("could not find expected ':'",
     "「キー: 値」の「:」が見つかりません。キーの後に「: 」(コロンと空白) を書いてください", False),
    ("that cannot start any token", "", False),  # worded per character below
    ("did not find expected key", _INDENT, False),
    ("did not find expected '-' indicator", "リストの「- 」の字下げがそろっていません", False),
    ("expected <block end>", _INDENT, False),
    ("found undefined alias", "* で始まる値は引用符で囲んでください (YAML の別名 (alias) として読まれます)", False),
    ("special characters are not allowed",
     "YAML に使えない制御文字が含まれています。テキストエディタで削除してください", False),
)


def _yaml_sentence(err: yaml.YAMLError, text: str) -> tuple[str, tuple[int, int] | None]:
    """A Japanese sentence for PyYAML's finding and the mark it belongs at (never PyYAML's text:
    the accountant reads the sentence, the position is given apart)."""
    problem = str(getattr(err, "problem", "") or "")
    mark, context = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
    if isinstance(err, yaml.reader.ReaderError):
        before = text[:err.position]
        at = (before.count("\n") + 1, err.position - before.rfind("\n"))
        return f"YAML に使えない文字 (#x{err.character:04x}) が含まれています。テキストエディタで削除してください", at
    mark = _at(mark)
    if problem and not problem.isascii():
        return problem, mark  # our own words (a list used as a key)
    for words, sentence, at_start in _SYNTAX:
        if words in problem:
            if words == "that cannot start any token":
                found = re.search(r"found character '(.+)'", problem)
                char = found.group(1) if found else "?"
                if char == "\\t":
                    return "タブ文字は使えません。字下げには半角スペースを使ってください", mark
                return f"「{char}」で始まる値は引用符で囲んでください (例 \"{char}…\")", mark
            return sentence, _at(context) if at_start and context is not None else mark
    return "YAML の書き方に誤りがあります。この位置の前後の字下げ・引用符・括弧を確認してください", mark


def _at(mark: Any) -> tuple[int, int] | None:
    return (mark.line + 1, mark.column + 1) if mark is not None else None


def _syntax_problem(err: yaml.YAMLError, path: Path, text: str) -> ConfigProblem:
    sentence, at = _yaml_sentence(err, text)
    line, col = at if at is not None else (None, None)
    where = f"{line}行{col}列目: " if line is not None else ""
    return ConfigProblem(f"{where}{sentence}", file=str(path), line=line, col=col, rule="yaml_syntax",
                         message=sentence)


def unquoted(mapping: Any, key: Any) -> str | None:
    """The source text of ``key``'s value when it was written unquoted and YAML did not read it as
    text (``0111`` → 73, ``4111`` → 4111, ``yes`` → True); None otherwise."""
    raw = mapping.get("__raw__", {}) if isinstance(mapping, dict) else {}
    value = raw.get(key)
    return value if isinstance(value, str) else None


def quote_advice(key: str, raw: str, value: Any) -> str:
    """What to write instead of an unquoted code: ``cd_act: "0111"``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        read_as = "文字列ではない値"
    else:
        read_as = "数値" if str(value) == raw else f"数値 {value} "
    return f"{key}: {raw} を引用符で囲んで {key}: \"{raw}\" と書いてください (引用符がないと{read_as}として読まれます)"


BOOKKEEPING = ("__line__", "__marks__", "__raw__")


def strip_lines(value: Any) -> Any:
    """Drop the ``__line__`` / ``__marks__`` / ``__raw__`` bookkeeping from loaded YAML."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k not in BOOKKEEPING}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


def mark_of(mapping: Any, key: Any, *, of_key: bool = False) -> tuple[int | None, int | None]:
    """1-based (line, column) of ``key``'s value (or of the key itself) in a loaded YAML mapping."""
    marks = mapping.get("__marks__", {}) if isinstance(mapping, dict) else {}
    if key not in marks:
        line = mapping.get("__line__") if isinstance(mapping, dict) else None
        return line, None
    found: tuple[int | None, int | None] = marks[key][0 if of_key else 1]
    return found


def locate(problems: list[str], data: Any, file: Path, rule: str) -> list[str]:
    """Give each "key: …" / "columns.key: …" problem of a settings or profile file the YAML
    position of that key's value (of the key itself when the key is the problem)."""
    located: list[str] = []
    for problem in problems:
        if isinstance(problem, ConfigProblem):
            located.append(problem if problem.file else problem.retext(problem, file=str(file)))
            continue
        head = problem.split(":", 1)[0]
        mapping, key = data, head
        if "." in head and isinstance(data, dict):
            parent, key = head.split(".", 1)
            mapping = data.get(parent, {})
        unknown = "知らない" in problem
        line, col = mark_of(mapping, key, of_key=unknown)
        if line is None and isinstance(data, dict) and ":" in problem:
            line, col = mark_of(data, head.split(".")[0], of_key=unknown)
        located.append(ConfigProblem(problem, file=str(file), line=line, col=col,
                                     rule="unknown_key" if unknown else rule))
    return located


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Per-company settings from ``settings.yaml`` (never the token: that comes from the env)."""

    ocode: str
    cd_coopsystem: str
    locale: str = "tfa"
    base_url: str = "http://127.0.0.1:8765"
    unmapped_customer: str = "name_only"
    is_add_depmaster: int = 0
    is_add_cstmmaster: int = 0
    is_add_auxmaster: int = 0
    masters_max_age_days: int = 7  # an older FX master cache gets a warning to pull again
    #: A catch-all FX 取引先 code for 随時の取引先 (name only) on accounts FX manages by customer
    #: ledger (is_usecstmldgr=1), where cd_cstm is required; "" = no catch-all (such rows are problems).
    one_off_customer_code: str = ""
    # FX company settings the API does not expose (fx_rules.COMPANY_RULES): stated here, enforced by check.
    fx_tax_return: int = 0  # 消費税申告書を作成する
    fx_tax_exclusive: int = 0  # 税抜経理
    fx_main_business: int = 0  # 主たる事業区分を管理する
    # --corrections holds (sends nothing without --yes) when it would reverse more 連携完了 documents
    # than this share of the period's, or this many, whichever is larger (a partial export, a wrong --period)
    corrections_guard_percent: float = 10
    corrections_guard_min: int = 20
    ledger_backups: int = DEFAULT_KEEP  # backups of the ledger kept (one before and one after each upload that sends)
    fiscal_year_start: int = 4  # month the company's 会計期間 starts (journo/journo_read restart each year)
    path: Path = field(default=Path("settings.yaml"), compare=False)


_SETTING_KEYS = {
    "ocode", "cd_coopsystem", "locale", "base_url", "unmapped_customer",
    "is_add_depmaster", "is_add_cstmmaster", "is_add_auxmaster", "masters_max_age_days",
    "one_off_customer_code", *(rule.key for rule in COMPANY_RULES),
    "corrections_guard_percent", "corrections_guard_min",
    "ledger_backups",
    "fiscal_year_start",
}


def load_settings(mappings_dir: Path) -> Settings:
    path = mappings_dir / "settings.yaml"
    data, problems = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["キーと値の組 (ocode: ... など) を書いてください"])
    marked, data = data, strip_lines(data)
    for key in sorted(set(data) - _SETTING_KEYS, key=str):
        problems.append(f"{key}: 知らないキーです (使えるキー: {', '.join(sorted(_SETTING_KEYS))})")
    if "token" in data or "FX_API_TOKEN" in data:
        problems.append("トークンは YAML に書かず、環境変数 FX_API_TOKEN で渡してください")
    for key in ("ocode", "cd_coopsystem", "one_off_customer_code"):  # codes: 0111 unquoted is the number 73
        raw = unquoted(marked, key)
        if raw is not None:
            problems.append(quote_advice(key, raw, data[key]))
    for key in ("ocode", "cd_coopsystem"):
        if unquoted(marked, key) is None and (not isinstance(data.get(key), str) or not data.get(key)):
            problems.append(f"{key}: 必須です (文字列で書いてください)")
    if isinstance(data.get("cd_coopsystem"), str) and not is_code("cd_coopsystem", data["cd_coopsystem"]):
        problems.append(f"cd_coopsystem: 2 文字のシステムコードです ('{data['cd_coopsystem']}')")
    if data.get("unmapped_customer", "name_only") not in ("name_only", "error"):
        problems.append("unmapped_customer: name_only か error を指定してください")
    for key in ("is_add_depmaster", "is_add_cstmmaster", "is_add_auxmaster", *(r.key for r in COMPANY_RULES)):
        if data.get(key, 0) not in FLAGS_0_1:
            problems.append(f"{key}: 0 か 1 を指定してください ('{data[key]}')")
    one_off = data.get("one_off_customer_code", "")
    if one_off != "" and unquoted(marked, "one_off_customer_code") is None and not is_code("cd_cstm", one_off):
        problems.append(f"one_off_customer_code: 随時の取引先に使う FX の取引先コード(cd_cstm) です。"
                        f"{CODE_HINTS['cd_cstm']}を引用符で囲んで書いてください ('{one_off}')")
    age = data.get("masters_max_age_days", Settings.masters_max_age_days)
    if isinstance(age, bool) or not isinstance(age, int) or age < 1:
        problems.append(f"masters_max_age_days: 1 以上の整数 (日数) を指定してください ('{age}')")
    percent = data.get("corrections_guard_percent", Settings.corrections_guard_percent)
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        problems.append(f"corrections_guard_percent: 0 から 100 の数 (%) を指定してください ('{percent}')")
    least = data.get("corrections_guard_min", Settings.corrections_guard_min)
    if isinstance(least, bool) or not isinstance(least, int) or least < 0:
        problems.append(f"corrections_guard_min: 0 以上の整数 (件数) を指定してください ('{least}')")
    keep = data.get("ledger_backups", Settings.ledger_backups)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        problems.append(f"ledger_backups: 1 以上の整数 (残す台帳バックアップの数) を指定してください ('{keep}')")
    start = data.get("fiscal_year_start", Settings.fiscal_year_start)
    if isinstance(start, bool) or not isinstance(start, int) or not 1 <= start <= 12:
        problems.append(f"fiscal_year_start: 会計期間の開始月を 1〜12 の整数で指定してください ('{start}')")
    base_url = data.get("base_url", Settings.base_url)
    if not isinstance(base_url, str) or not re.match(r"^https?://", base_url):
        problems.append(f"base_url: http:// または https:// で始まる URL を指定してください ('{base_url}')")
    if problems:
        raise ConfigError(str(path), locate(problems, marked, path, "setting"))
    known = {k: v for k, v in data.items() if k in _SETTING_KEYS}
    return Settings(path=path, **known)


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """How one kind of source file is laid out.

    ``columns`` maps a canonical field to the accepted header spellings (header files) or to
    its 1-based column position (headerless files).
    """

    name: str
    style: str  # "journal" (one row = one debit/credit pair) or "yayoi" (識別フラグ groups)
    header: bool
    encoding: str
    columns: dict[str, tuple[str, ...] | int]
    required: tuple[str, ...]
    date_format: str = "%Y/%m/%d"
    default_kind: str = ""
    closed_values: tuple[str, ...] = ("締切済", "済", "1", "○")
    sundry_accounts: tuple[str, ...] = ("諸口",)
    #: 取引種別 and ステータス values the source writes (``--kinds`` / ``--exclude-status`` accept
    #: these and any the export holds; a value in neither is a typo, refused).
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    #: What the source is called in advice to the user (「ジョブカンで…書き出し直して」 is wrong for 弥生).
    source_name: str = "ジョブカン"
    identity: Identity = "kind_no"  # what names a document in the ledger (converter.keys)
    path: Path = field(default=Path(), compare=False)

    def source_column(self, canonical: str) -> str:
        """The name a user sees for a canonical field (first header spelling, or 'N列目')."""
        spec = self.columns.get(canonical)
        if spec is None:
            return canonical
        if isinstance(spec, int):
            return f"{spec}列目"
        return spec[0]


_PROFILE_KEYS = {
    "name", "style", "header", "encoding", "columns", "required", "date_format",
    "default_kind", "closed_values", "sundry_accounts", "description", "source_name", "identity",
    "kinds", "statuses",
}


def find_profile(name: str, mappings_dir: Path | None) -> Path:
    candidates = []
    if mappings_dir is not None:
        candidates.append(mappings_dir / "profiles" / f"{name}.yaml")
    candidates.append(BUILTIN_PROFILES / f"{name}.yaml")
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise ConfigError(name, [f"プロファイル '{name}' が見つかりません (探した場所: {tried})"])


def load_profile(name: str, mappings_dir: Path | None = None) -> Profile:
    path = find_profile(name, mappings_dir)
    data, problems = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["プロファイルはキーと値の組で書いてください"])
    marked, data = data, strip_lines(data)
    for key in sorted(set(data) - _PROFILE_KEYS, key=str):
        problems.append(f"{key}: 知らないキーです")
    style = data.get("style", "journal")
    if style not in ("journal", "yayoi"):
        problems.append(f"style: journal か yayoi を指定してください ('{style}')")
    header = bool(data.get("header", True))
    encoding = str(data.get("encoding", "auto")).lower()
    if encoding not in ENCODINGS:
        problems.append(f"encoding: {', '.join(ENCODINGS)} のいずれかです ('{encoding}')")
    columns: dict[str, tuple[str, ...] | int] = {}
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        problems.append("columns: 正規の項目名 → 見出し名 (または列番号) の対応を書いてください")
        raw_columns = {}
    for key, spec in raw_columns.items():
        if key not in CANONICAL_FIELDS:
            problems.append(f"columns.{key}: 知らない項目です (使える項目: {', '.join(CANONICAL_FIELDS)})")
        elif header and isinstance(spec, str):
            columns[key] = (spec,)
        elif header and isinstance(spec, list) and spec and all(isinstance(s, str) for s in spec):
            columns[key] = tuple(spec)
        elif not header and isinstance(spec, int) and not isinstance(spec, bool) and spec >= 1:
            columns[key] = spec
        else:
            want = "見出し名 (文字列かそのリスト)" if header else "1 から始まる列番号"
            problems.append(f"columns.{key}: {want} を指定してください ('{spec}')")
    # A 弥生 file may leave 伝票No empty (the number is then the 伝票's position) and numbers per
    # 会計年度: its documents keep the date in their identity (converter.keys).
    identity = data.get("identity", "kind_no_date" if style == "yayoi" else "kind_no")
    if identity not in IDENTITIES:
        problems.append(f"identity: {' か '.join(IDENTITIES)} を指定してください ('{identity}')")
        identity = "kind_no"
    required = tuple(data.get("required", ()))
    for key in required:
        if key not in columns:
            problems.append(f"required: '{key}' が columns にありません")
    if problems:
        raise ConfigError(str(path), locate(problems, marked, path, "profile"))
    extra: dict[str, Any] = {}
    for key in ("closed_values", "sundry_accounts", "kinds", "statuses"):
        if key in data:
            extra[key] = tuple(str(v) for v in data[key])
    return Profile(
        name=str(data.get("name", name)),
        style=style,
        header=header,
        encoding=encoding,
        columns=columns,
        required=required,
        date_format=str(data.get("date_format", "%Y/%m/%d")),
        default_kind=str(data.get("default_kind", "")),
        source_name=str(data.get("source_name", Profile.source_name)),
        identity=cast("Identity", identity),
        path=path,
        **extra,
    )
