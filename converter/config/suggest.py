"""Suggest mapping entries from the FX masters, and append them to the YAML tables.

For every source 勘定科目 [+ 補助科目], 部門 and 取引先 with no mapping, the FX master records
that look like it, best first: the same name, then the same name once width, kana, spacing and
company designators (株式会社, ㈱ …) are folded, then the most similar names (difflib).

Writing (``write_suggestions``) only ever appends to a table. An entry whose top candidate is
an unambiguous name match is written active; every other one is written commented out, so a
guess never takes effect before someone has looked at it. Each carries a ``# 要確認:`` line
naming the candidates. 税区分 cannot be matched against any FX master (課税区分 is not one), so
those get commented templates with the rate read from the name and 課税区分 left as ``"??"``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from converter.config.tables import KEYS, Mappings, Table
from converter.errors import ConfigError
from converter.fx.masters import MasterData
from converter.outputs import write_atomic

TABLES: tuple[Table, ...] = ("accounts", "departments", "customers", "tax")
HOW = {"exact": "名前が一致", "normalised": "表記ゆれを除いて一致", "similar": "名前が類似"}
_RANK = {"exact": 0, "normalised": 1, "similar": 2}
MIN_SIMILARITY = 0.6
SHORTLIST = 50  # names compared with difflib after the bigram prefilter (large customer masters)

_DESIGNATORS = re.compile(r"株式会社|有限会社|合同会社|合資会社|合名会社|一般社団法人|一般財団法人|\((?:株|有|同)\)")
_NOISE = re.compile(r"[\s・\-‐_.,、。()「」\[\]/]")


def normalise_name(text: str) -> str:
    """Fold what differs between two spellings of one name: width (NFKC), katakana → hiragana,
    case, spaces and punctuation, company designators. Never used for what is written."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _DESIGNATORS.sub("", folded)
    folded = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in folded)
    return _NOISE.sub("", folded)


@dataclass(frozen=True)
class Candidate:
    """One FX record that may be what a source value means."""

    code: str
    name: str
    how: str  # exact | normalised | similar
    score: float
    aux: str = ""  # cd_auxact, for a 口座 of the account ``code``

    def describe(self) -> str:
        code = f"{self.code}/{self.aux}" if self.aux else self.code
        return f"{code} {self.name} ({HOW[self.how]}{f' {self.score:.2f}' if self.how == 'similar' else ''})"


@dataclass(frozen=True)
class Suggestion:
    """An entry a mapping table lacks: its source keys, what to write, and whether it is sure."""

    table: Table
    keys: tuple[tuple[str, str], ...]  # the entry's source keys, e.g. (("account", "普通預金"), …)
    label: str
    count: int
    rows: tuple[tuple[str, int], ...]
    candidates: tuple[Candidate, ...]
    codes: tuple[tuple[str, Any], ...]  # FX fields to write ("????" when unknown)
    confident: bool
    note: str = ""

    @property
    def key(self) -> tuple[str, ...]:
        present = dict(self.keys)
        return tuple(present.get(k, "") for k in KEYS[self.table])


class _Index:
    """Name lookup over one master list: exact and folded dicts, a bigram index for similarity."""

    def __init__(self, options: Iterable[tuple[str, str, Sequence[str]]]) -> None:
        self.options = [(code, name, tuple(normalise_name(n) for n in (name, *others) if n))
                        for code, name, others in options]
        self.exact: dict[str, list[int]] = defaultdict(list)
        self.folded: dict[str, list[int]] = defaultdict(list)
        for i, (_, name, keys) in enumerate(self.options):
            self.exact[name.strip()].append(i)
            for key in set(keys):
                self.folded[key].append(i)
        self._grams: dict[str, list[int]] | None = None

    def rank(self, query: str, limit: int = 3) -> list[Candidate]:
        folded = normalise_name(query)
        found: dict[int, Candidate] = {}
        for i in self.exact.get(query.strip(), []):
            found[i] = self._candidate(i, "exact", 1.0)
        for i in self.folded.get(folded, []):
            found.setdefault(i, self._candidate(i, "normalised", 1.0))
        if len(found) < limit and folded:
            for i, score in self._similar(folded):
                if len(found) >= limit:
                    break
                found.setdefault(i, self._candidate(i, "similar", score))
        return sorted(found.values(), key=lambda c: (_RANK[c.how], -c.score, c.code))[:limit]

    def _candidate(self, i: int, how: str, score: float) -> Candidate:
        code, name, _ = self.options[i]
        return Candidate(code, name, how, round(score, 2))

    def _similar(self, folded: str) -> list[tuple[int, float]]:
        if self._grams is None:  # built on first need: a customer master can hold 100,000 names
            self._grams = defaultdict(list)
            for i, (_, _, keys) in enumerate(self.options):
                for gram in {g for k in keys for g in _bigrams(k)}:
                    self._grams[gram].append(i)
        shared: Counter[int] = Counter()
        for gram in _bigrams(folded):
            shared.update(self._grams.get(gram, ()))
        scored = []
        for i, _ in shared.most_common(SHORTLIST):
            score = max(difflib.SequenceMatcher(None, folded, k).ratio() for k in self.options[i][2])
            if score >= MIN_SIMILARITY:
                scored.append((i, score))
        return sorted(scored, key=lambda s: -s[1])


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or {text}


def _confident(candidates: Sequence[Candidate]) -> bool:
    """Sure only of a name match with no second name match pointing elsewhere."""
    sure = [c for c in candidates if c.how != "similar"]
    return bool(sure) and candidates[0].how != "similar" and len({(c.code, c.aux) for c in sure}) == 1


# --------------------------------------------------------------------------- what is unmapped


def _groups(frame: pd.DataFrame, by: list[str]) -> Iterable[tuple[tuple[str, ...], pd.DataFrame]]:
    for key, group in frame.groupby(by, sort=True):
        yield tuple(str(k) for k in (key if isinstance(key, tuple) else (key,))), group


def _rows(group: pd.DataFrame) -> tuple[tuple[str, int], ...]:
    pairs = group[["_file", "_row"]].drop_duplicates()
    return tuple((str(f), int(r)) for f, r in pairs.itertuples(index=False, name=None))


def suggest(lines: pd.DataFrame, mappings: Mappings, masters: MasterData) -> list[Suggestion]:
    """Every source value the mapping tables lack, with FX candidates (tables in a fixed order)."""
    return [*_accounts(lines, mappings, masters), *_departments(lines, mappings, masters),
            *_customers(lines, mappings, masters), *_taxes(lines, mappings, masters)]


def _accounts(lines: pd.DataFrame, mappings: Mappings, masters: MasterData) -> list[Suggestion]:
    table = mappings.accounts
    generic = table.loc[table["sub_account"] == "", "account"]
    specific = table["account"] + "\x1f" + table["sub_account"]
    missing = lines[(lines["account"] != "") & ~lines["account"].isin(generic)
                    & ~(lines["account"] + "\x1f" + lines["sub_account"]).isin(specific)]
    acts: dict[str, dict[str, Any]] = {}
    for a in masters.accounts:
        acts.setdefault(a["cd_act"], a)
    index = _Index((code, a["nm_act"], [a["kana_act"]]) for code, a in acts.items())
    out: list[Suggestion] = []
    for (account,), group in _groups(missing, ["account"]):
        candidates = index.rank(account)
        top = candidates[0] if candidates else None
        if top is None or acts[top.code]["is_useauxact"] != 1:
            codes: tuple[tuple[str, Any], ...] = (("cd_act", top.code if top else "????"),)
            out.append(Suggestion("accounts", (("account", account),), account, len(group), _rows(group),
                                  tuple(candidates), codes, top is not None and _confident(candidates)))
            continue
        banks = [a for a in masters.accounts if a["cd_act"] == top.code and a.get("cd_auxact")]
        bank_index = _Index((b["cd_auxact"], b["nm_auxact"], [b.get("kana_auxact", "")]) for b in banks)
        listed = ", ".join(f"{b['cd_auxact']} {b['nm_auxact']}" for b in banks) or "なし"
        note = (f"{top.name}(cd_act {top.code}) は口座別管理の科目です。補助科目ごとに口座コード(cd_auxact) が"
                f"必要です (FX の口座: {listed})")
        for (sub,), part in _groups(group, ["sub_account"]):
            keys = (("account", account), ("sub_account", sub)) if sub else (("account", account),)
            label = f"{account} / {sub}" if sub else account
            found = [Candidate(top.code, f"{top.name} / {b.name}", max(top.how, b.how, key=_RANK.__getitem__),
                               min(top.score, b.score), aux=b.code) for b in (bank_index.rank(sub) if sub else [])]
            codes = (("cd_act", top.code), ("cd_auxact", found[0].aux if found else "??"))
            sure = bool(found) and top.how != "similar" and _confident(found)
            out.append(Suggestion("accounts", keys, label, len(part), _rows(part), tuple(found) or (top,), codes,
                                  sure, "" if sure else note))
    return out


def _departments(lines: pd.DataFrame, mappings: Mappings, masters: MasterData) -> list[Suggestion]:
    missing = lines[(lines["department"] != "") & ~lines["department"].isin(mappings.departments["department"])]
    index = _Index((d["cd_dep"], d["nm_dep"], [d.get("snm_dep", ""), d["kana_dep"]]) for d in masters.departments)
    out = []
    for (name,), group in _groups(missing, ["department"]):
        candidates = index.rank(name)
        codes = (("cd_dep", candidates[0].code if candidates else "???"),)
        out.append(Suggestion("departments", (("department", name),), name, len(group), _rows(group),
                              tuple(candidates), codes, bool(candidates) and _confident(candidates)))
    return out


def _customers(lines: pd.DataFrame, mappings: Mappings, masters: MasterData) -> list[Suggestion]:
    table = mappings.customers
    by_code = lines["customer_code"].ne("") & lines["customer_code"].isin(table["customer_code"])
    by_name = lines["customer_key"].ne("") & lines["customer_key"].isin(
        table.loc[table["customer_code"] == "", "customer"])
    missing = lines[(lines["customer_code"].ne("") | lines["customer_key"].ne("")) & ~by_code & ~by_name]
    index = _Index((c["cd_cstm"], c["nm_cstm"], [c["kana_cstm"]]) for c in masters.customers)
    out = []
    for (code, name), group in _groups(missing, ["customer_code", "customer_key"]):
        candidates = index.rank(name) if name else []
        keys = (("customer_code", code),) if code else (("customer", name),)
        label = f"{code} {name}".strip()
        codes = (("cd_cstm", candidates[0].code if candidates else "??????"),)
        note = "" if name else "取引先名がないため候補を探せません"
        out.append(Suggestion("customers", keys, label, len(group), _rows(group), tuple(candidates), codes,
                              bool(candidates) and _confident(candidates), note))
    # One 取引先コード exported under two names: keep the first, the key must stay unique.
    unique: dict[tuple[str, ...], Suggestion] = {}
    for s in out:
        unique.setdefault(s.key, s)
    return list(unique.values())


_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def _taxes(lines: pd.DataFrame, mappings: Mappings, masters: MasterData) -> list[Suggestion]:
    missing = lines[(lines["tax"] != "") & ~lines["tax"].isin(mappings.tax["tax"])]
    rates = {(int(r["cmtxrate"]), int(r["is_reduce_cmtxrate"])) for r in masters.consumptiontaxrates}
    out = []
    for (tax,), group in _groups(missing, ["tax"]):
        text = unicodedata.normalize("NFKC", tax)
        match = _RATE.search(text)
        codes: list[tuple[str, Any]] = [("tptn", "??")]
        note = "課税区分(tptn) は FX のマスターにないため、FX の消費税情報の区分を書いてください"
        if match:
            rate, reduce = round(float(match[1]) * 100), int("軽減" in text)
            codes += [("cmtxrate", rate), ("is_reduce_cmtxrate", reduce)]
            if (rate, reduce) not in rates:
                note += f"。消費税率 {rate} (軽減 {reduce}) は FX の税率テーブルにありません"
        if "仕入" in text:
            codes.append(("cat_purday", 9))
        out.append(Suggestion("tax", (("tax", tax),), tax, len(group), _rows(group), (), tuple(codes), False, note))
    return out


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Written:
    path: Path
    active: int  # entries that take effect
    commented: int  # entries written as comments, to review and uncomment
    skipped: int  # already in the table (as an entry or an earlier suggestion)


_CODE_FIELDS = {"cd_act", "cd_auxact", "cd_dep", "cd_cstm", "tptn", "tbptn"}
_PLAIN = re.compile(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`][^,\[\]{}#:]*")
_COMMENTED_ENTRY = re.compile(r"^#\s?(- \{.*\})\s*(?:#.*)?$")


def entry_line(suggestion: Suggestion) -> str:
    """The YAML flow mapping of one entry (codes always quoted, as the tables require)."""
    parts = []
    for key, value in (*suggestion.keys, *suggestion.codes):
        if isinstance(value, int):
            text = str(value)
        elif key not in _CODE_FIELDS and _PLAIN.fullmatch(value) and not value.endswith(" ") \
                and yaml.safe_load(value) == value:
            text = value
        else:
            text = json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar
        parts.append(f"{key}: {text}")
    line = "- {" + ", ".join(parts) + "}"
    if yaml.safe_load(line) != [dict((*suggestion.keys, *suggestion.codes))]:
        raise AssertionError(f"entry does not round-trip through YAML: {line}")  # a bug of ours
    return line


def _existing_keys(table: Table, text: str, path: Path) -> set[tuple[str, ...]]:
    """Keys of the entries already in a table, and of earlier suggestions still commented out."""
    try:
        data = yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError as err:
        raise ConfigError(str(path), [f"YAML として読めないため追記しません: {err}"]) from None
    entries = [e for e in (data or []) if isinstance(e, dict)]
    for line in text.splitlines():
        match = _COMMENTED_ENTRY.match(line.strip())
        if match:
            try:
                parsed = yaml.safe_load(match[1])
            except yaml.YAMLError:
                continue
            entries += [e for e in parsed or [] if isinstance(e, dict)]
    return {tuple(str(e.get(k) or "").strip() for k in KEYS[table]) for e in entries}


def write_suggestions(suggestions: Sequence[Suggestion], mappings_dir: Path,
                      today: dt.date | None = None) -> list[Written]:
    """Append each suggestion to its table; what is there is left byte for byte as it was."""
    results = []
    for table in TABLES:
        items = [s for s in suggestions if s.table == table]
        if not items:
            continue
        path = Path(mappings_dir) / f"{table}.yaml"
        old = path.read_bytes() if path.is_file() else b""
        known = _existing_keys(table, old.decode("utf-8-sig"), path)
        block: list[str] = []
        active = commented = 0
        for s in items:
            if s.key in known:
                continue
            known.add(s.key)
            listed = " / ".join(c.describe() for c in s.candidates) or "なし"
            block.append(f"# 要確認: {s.label} ({s.count} 行) 候補 {listed}" + (f" — {s.note}" if s.note else ""))
            block.append(entry_line(s) if s.confident else "# " + entry_line(s))
            active += s.confident
            commented += not s.confident
        if block:
            stamp = (today or dt.date.today()).isoformat()
            head = [f"# --- converter mappings suggest {stamp}: 候補を確認し、コメントの行は正しいコードにして先頭の"
                    " # を外してください"]
            text = ("\n" if old and not old.endswith(b"\n") else "") + "\n".join(head + block) + "\n"
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
            write_atomic(path, old + text.encode("utf-8"), mode)
        results.append(Written(path, active, commented, len(items) - active - commented))
    return results
