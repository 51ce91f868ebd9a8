"""Check detail lines against the cached FX masters, the way slips/import would.

Most month-end rejections are codes FX does not know, or accounts that need a 部門, 口座 or
取引先 the line does not carry. :func:`apply_masters` finds them before anything is sent and
drops the fields FX would only zero out (みなし処理), with one notice per account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from converter import clock
from converter.config.settings import Profile, Settings
from converter.convert.validate import fx_width
from converter.errors import Problem
from converter.fx.masters import DEFAULT_MAX_AGE_DAYS, MasterData
from converter.fx_rules import CODE_PATTERNS, CREDIT, DEBIT, RCJ_SLIP_WIDTH

__all__ = ["MASTER_RULES", "apply_masters", "stale_notices", "unchecked_without_masters"]

#: What only the FX master cache lets check see (rule id: what it checks), for the notice when
#: there is no cache and for the README.
MASTER_RULES: dict[str, str] = {
    "master_account": "勘定科目コード(cd_act) が FX の科目にあるか",
    "master_auxact / master_department / master_customer": "口座・部門・取引先のコードが FX のマスターにあるか",
    "auxact_required / department_required / customer_required":
        "口座別・部門・取引先別管理の科目に cd_auxact / cd_dep / cd_cstm があるか "
        "(随時の取引先は取引先別管理の科目では不可)",
    "tax_rate": "消費税率(cmtxrate) が取引日に FX の税率テーブルにあるか",
    "fund_category": "資金科目と非資金科目を含む仕訳の収支区分(cd_fbcat)・内訳区分(cd_fbbdcat)",
}


def unchecked_without_masters(mappings_dir: Path, settings: Settings, wanted: bool = True) -> Problem:
    """The one statement of a run without the FX master cache: which rules it could not check."""
    rules = "、".join(f"{what} ({rule})" for rule, what in MASTER_RULES.items())
    why, how = ("FX マスターのキャッシュがない", f"converter masters pull -m {mappings_dir} で取得すると確認します")
    if not wanted:
        why, how = "--no-masters を付けた", "--no-masters を外すと確認します"
    return Problem(str(mappings_dir / "masters" / f"{settings.ocode}.json"), None, "", "", "masters_missing",
                   f"{why}ため、次のルールは確認していません: {rules}。{how}")


class _Findings:
    """Problems and notices, one per group of lines (file, column, value and keys), rows listed.

    The grouping, each group's first line, its row list and its distinct values are computed
    column-wise; Python runs once per finding (to format its message), never per line.
    """

    def __init__(self, lines: pd.DataFrame) -> None:
        self.lines = lines
        self.problems: list[Problem] = []
        self.notices: list[Problem] = []

    def add(self, mask: pd.Series, rule: str, column: pd.Series, value: pd.Series,
            message: Callable[[dict[str, Any]], str], keys: Mapping[str, pd.Series], *,
            notice: bool = False, per_source: bool = True, extra: Mapping[str, pd.Series] | None = None) -> None:
        """``per_source=False`` gives one finding per ``keys`` (e.g. once per account) across files."""
        where = mask.to_numpy(dtype=bool)
        if not where.any():
            return
        columns = {"_file": self.lines["_file"], "_row": self.lines["_row"], "_doc": self.lines["doc"],
                   "_column": column, "_value": value, **keys, **(extra or {})}
        frame = pd.DataFrame({name: series[where].to_numpy() for name, series in columns.items()})
        frame["_value"] = frame["_value"].astype(str)
        group = (["_file", "_column", "_value"] if per_source else []) + list(keys)
        gid = frame.groupby(group, sort=False, dropna=False).ngroup().to_numpy()  # numbered as first seen
        rows = frame["_row"].to_numpy(dtype="int64")
        position = np.arange(len(frame))
        # each group's first line: its smallest row (the earliest line among equal rows), or its earliest line
        order = np.lexsort((position, rows, gid) if per_source else (position, gid))
        first = order[np.flatnonzero(np.r_[True, gid[order][1:] != gid[order][:-1]])]
        files = frame["_file"].to_numpy()
        same_file = files == files[first][gid]
        listed = pd.DataFrame({"g": gid[same_file], "row": rows[same_file]}).drop_duplicates().sort_values(
            ["g", "row"], kind="stable")
        rank = listed.groupby("g").cumcount().to_numpy()
        count = np.bincount(listed["g"].to_numpy(), minlength=len(first))
        head = listed[rank < 10]
        shown = head["row"].astype(str).groupby(head["g"].to_numpy()).agg(", ".join).to_numpy()
        size = np.bincount(gid, minlength=len(first))
        named = frame["_value"].ne("").to_numpy()
        distinct = pd.DataFrame({"g": gid[named], "v": frame["_value"].to_numpy()[named]}).drop_duplicates()
        values = distinct.groupby("g")["v"].agg("、".join).reindex(range(len(first)), fill_value="").to_numpy()
        into = self.notices if notice else self.problems
        for g, line in enumerate(frame.iloc[first].to_dict("records")):
            info = {k: line[k] for k in [*keys, *(extra or {})]}
            info.update(value=line["_value"], values=values[g], n=int(size[g]),
                        rows=f" ({size[g]} 行: {shown[g]}{' …' if count[g] > 10 else ''})")
            into.append(Problem(str(line["_file"]), int(line["_row"]), str(line["_column"]), str(line["_value"]),
                                rule, message(info), document=str(line["_doc"])))


def stale_notices(masters: MasterData, *, now: dt.datetime | None = None,
                  max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> list[Problem]:
    age = masters.age(now)
    if age <= dt.timedelta(days=max_age_days):
        return []
    folder = masters.path.parent.parent if masters.path else Path("mappings")
    when = masters.fetched_at.astimezone(clock.JST).strftime("%Y-%m-%d %H:%M")
    return [Problem(str(masters.path or ""), None, "fetched_at", masters.fetched_at.isoformat(timespec="seconds"),
                    "masters_stale",
                    f"FX マスターのキャッシュは {age.days} 日前 ({when}) の取得です ({max_age_days} 日より古い)。"
                    "FX 側で科目・取引先を変えていると結果が違います。"
                    f"converter masters pull -m {folder} で取り直してください")]


def apply_masters(lines: pd.DataFrame, masters: MasterData, settings: Settings, profile: Profile, *,
                  now: dt.datetime | None = None, max_age_days: int = DEFAULT_MAX_AGE_DAYS,
                  ) -> tuple[pd.DataFrame, list[Problem], list[Problem]]:
    """Check numbered detail lines against the FX masters the way slips/import would.

    Returns (lines without the fields FX would only zero out, plus slip-level ``cd_fbcat`` /
    ``cd_fbbdcat`` ("" where not needed); problems; notices). Each blanking is one notice per
    account; each problem covers one source value and lists its rows.

    Problem rules: master_account, master_auxact, master_department, master_customer,
    auxact_required, department_required, customer_required, tax_rate, fund_category.
    Notice rules: masters_stale, master_auto_add, one_off_customer, needless_cd_auxact, needless_cd_dep,
    needless_cd_cstm, needless_tax, fund_default.
    """
    notices = stale_notices(masters, now=now, max_age_days=max_age_days)
    out = lines.copy(deep=False)  # copy-on-write: only the columns changed below are copied
    out["cd_fbcat"] = ""
    out["cd_fbbdcat"] = ""
    if out.empty:
        return out, [], notices
    found = _Findings(out)
    acts = masters.account_table
    act = out["cd_act"]
    # each account attribute is looked up once per distinct cd_act and laid out by the codes
    act_codes, act_values = pd.factorize(act, use_na_sentinel=False)
    known = pd.Series(pd.Index(act_values).isin(acts.index)[act_codes], index=out.index)

    def per_account(by_act: pd.Series) -> pd.Series:
        """A value per cd_act (NaN for one FX does not have), laid out on the lines."""
        return pd.Series(by_act.reindex(act_values).to_numpy()[act_codes], index=out.index)

    def attr(name: str) -> pd.Series:
        return per_account(acts[name])

    def side_column(name: str) -> pd.Series:
        names = {DEBIT: profile.source_column("dr_" + name), CREDIT: profile.source_column("cr_" + name)}
        return out["side"].map(names)

    account = {"cd_act": act, "nm_act": attr("nm_act").fillna("")}
    account_column = side_column("account")
    found.add(act.ne("") & ~known, "master_account", account_column, out["account"], lambda i: (
        f"勘定科目コード(cd_act) {i['cd_act']} は FX の勘定科目にありません{i['rows']}。accounts.yaml の"
        f"「{i['value']}」の cd_act を FX の科目コードに直すか、FX に科目を登録してから converter masters pull "
        "を実行してください"), {"cd_act": act})

    def needless(mask: pd.Series, columns: list[str], term: str, flag: str, names: tuple[str, ...] = ()) -> None:
        found.add(mask, "needless_" + columns[0], account_column, out["account"], lambda i: (
            f"{i['nm_act']}(cd_act {i['cd_act']}) は FX で{term}していない科目 ({flag}=0) のため、"
            f"{'/'.join(columns)} を送信から外しました{i['rows']} (送っても FX が消去します: みなし処理)"),
            account, notice=True, per_source=False)
        out.loc[mask, [c for c in (*columns, *names) if c in out.columns]] = ""

    def auto_added(flag: str, term: str) -> Callable[[dict[str, Any]], str]:
        return lambda i: (f"{term} {i['code']} は FX のマスターにありません。settings.yaml の {flag}: 1 のため FX が"
                          f"マスターに自動で追加します{i['rows']}。意図した追加か確認してください")

    # 口座: is_useauxact=1 needs a cd_auxact that FX has for that account.
    aux = masters.auxact_table
    aux_list = (aux["cd_auxact"] + " " + aux["nm_auxact"]).groupby(aux["cd_act"]).agg(", ".join)
    account_aux = {**account, "account": out["account"], "aux_list": per_account(aux_list).fillna("なし")}
    uses = known & attr("is_useauxact").eq(1)
    code = out["cd_auxact"]
    found.add(uses & code.eq(""), "auxact_required", side_column("sub_account"), out["sub_account"], lambda i: (
        f"{i['nm_act']}(cd_act {i['cd_act']}) は FX で口座別管理の科目 (is_useauxact=1) です。口座コード(cd_auxact) "
        f"がないと FX はエラーにします{i['rows']}。accounts.yaml で「{i['account']}」を補助科目ごとに書き、cd_auxact を"
        f"指定してください (FX の口座: {i['aux_list']})"), account_aux)
    coded = uses & code.ne("")
    act_aux = pd.Series("", index=out.index, dtype=object)  # cd_act/cd_auxact, made only where there is one
    act_aux[coded] = act[coded] + "/" + code[coded]
    unknown = coded & ~act_aux.isin(aux["cd_act"] + "/" + aux["cd_auxact"])
    if settings.is_add_auxmaster:
        found.add(unknown, "master_auto_add", side_column("sub_account"), out["sub_account"],
                  auto_added("is_add_auxmaster", "口座コード(cd_auxact)"), {"code": act_aux}, notice=True)
    else:
        found.add(unknown, "master_auxact", side_column("sub_account"), out["sub_account"], lambda i: (
            f"口座コード(cd_auxact) {i['code']} は FX の {i['nm_act']}(cd_act {i['cd_act']}) の口座にありません"
            f"{i['rows']}。accounts.yaml の「{i['account']} / {i['value']}」の cd_auxact を直すか "
            f"(FX の口座: {i['aux_list']})、settings.yaml の is_add_auxmaster を 1 にして "
            "FX に自動で追加させてください"),
            {**account_aux, "code": code})
    needless(known & ~uses & code.ne(""), ["cd_auxact"], "口座別管理", "is_useauxact", ("nm_auxact",))

    # 部門: FX answers 0 departments when the company does not manage by 部門; then none is needed.
    uses = known & attr("is_usedep").eq(1) & bool(len(masters.departments))
    code = out["cd_dep"]
    common = [f"{d['cd_dep']} {d['nm_dep']}" for d in masters.departments if d.get("is_adj") == 1]
    hint = f" (部門を特定しない取引は FX の共通部門 {'、'.join(common)} を使います)" if common else ""
    # A 部門 the export names but departments.yaml does not is reported by mapping as unmapped, not here.
    found.add(uses & code.eq("") & out["department"].eq(""), "department_required", side_column("department"),
              out["department"], lambda i: (
        f"{i['nm_act']}(cd_act {i['cd_act']}) は FX で部門管理の科目 (is_usedep=1) です。部門コード(cd_dep) がないと "
        f"FX はエラーにします{i['rows']}。{profile.source_name}で部門を入れて書き出し直してください{hint}"), account)
    unknown = uses & code.ne("") & ~code.isin(masters.department_codes)
    if settings.is_add_depmaster:
        found.add(unknown, "master_auto_add", side_column("department"), out["department"],
                  auto_added("is_add_depmaster", "部門コード(cd_dep)"), {"code": code}, notice=True)
    else:
        found.add(unknown, "master_department", side_column("department"), out["department"], lambda i: (
            f"部門コード(cd_dep) {i['code']} は FX の部門にありません{i['rows']}。departments.yaml の「{i['value']}」を"
            "FX の部門コードに直すか、settings.yaml の is_add_depmaster を 1 にして FX に自動で追加させてください"),
            {"code": code})
    needless(known & ~uses & code.ne(""), ["cd_dep"], "部門管理", "is_usedep", ("nm_dep",))

    # 取引先: FX requires cd_cstm on accounts it manages by customer ledger (is_usecstmldgr=1); a name
    # alone (随時の取引先, nm_cstm) is for the other accounts. Both statements of the reference read
    # together: a name-only customer on such an account is a problem, unless settings.yaml names a
    # catch-all 取引先 (one_off_customer_code) — then that code is sent and the name goes to 摘要.
    uses = known & attr("is_usecstmldgr").eq(1)
    by_code = out["customer_code"].ne("")
    customer_column = pd.Series(profile.source_column("customer"), index=out.index).mask(
        by_code, profile.source_column("customer_code"))
    customer_value = out["customer_code"].where(by_code, out["customer"])
    no_source = ~by_code & out["customer_key"].eq("")  # with a source value, mapping already reported it
    lacking = uses & out["cd_cstm"].eq("") & (out["nm_cstm"].ne("") | no_source)
    one_off = settings.one_off_customer_code
    if one_off:
        _one_off_customer(out, found, lacking, one_off, account, customer_column, customer_value)
    else:
        found.add(lacking & out["nm_cstm"].ne(""), "customer_required", customer_column, customer_value, lambda i: (
            f"{i['nm_act']}(cd_act {i['cd_act']}) は FX で取引先別管理の科目 (is_usecstmldgr=1) です。"
            f"取引先コード(cd_cstm) が必須で、取引先名(nm_cstm) だけ (随時の取引先) では FX はエラーにします"
            f"{i['rows']}。customers.yaml で「{i['value']}」に FX の取引先コードを割り当てるか、settings.yaml の "
            "one_off_customer_code に随時の取引先用の取引先コードを書いてください (取引先名は摘要に入れます)"),
            account)
        found.add(lacking & out["nm_cstm"].eq(""), "customer_required", customer_column, customer_value,
                  lambda i: (
                      f"{i['nm_act']}(cd_act {i['cd_act']}) は FX で取引先別管理の科目 (is_usecstmldgr=1) です。"
                      f"取引先コード(cd_cstm) がないと FX はエラーにします{i['rows']}。"
                      f"{profile.source_name}で取引先を入れて書き出し直すか、settings.yaml の one_off_customer_code "
                      "に随時の取引先用の取引先コードを書いてください"), account)
    code = out["cd_cstm"]
    unknown = uses & code.ne("") & ~code.isin(masters.customer_codes)
    if settings.is_add_cstmmaster:
        found.add(unknown, "master_auto_add", customer_column, customer_value,
                  auto_added("is_add_cstmmaster", "取引先コード(cd_cstm)"), {"code": code}, notice=True)
    else:
        found.add(unknown, "master_customer", customer_column, customer_value, lambda i: (
            f"取引先コード(cd_cstm) {i['code']} は FX の取引先にありません{i['rows']}。customers.yaml の"
            f"「{i['value']}」を FX の取引先コードに直すか、settings.yaml の is_add_cstmmaster を 1 にして FX に"
            "自動で追加させてください"),
            {"code": code})
    needless(known & ~uses & (code.ne("") | out["nm_cstm"].ne("")), ["cd_cstm", "nm_cstm"], "取引先別管理",
             "is_usecstmldgr")

    _tax(out, found, known, attr("catcmtx"), account, account_column, side_column("tax"), masters)
    if len(masters.fundbalancebreakdowns):
        _fund(out, found, known, attr, account, account_column, masters)
    return out, found.problems, notices + found.notices


def _one_off_customer(out: pd.DataFrame, found: _Findings, lacking: pd.Series, one_off: str,
                      account: Mapping[str, pd.Series], column: pd.Series, value: pd.Series) -> None:
    """Lines lacking cd_cstm on a customer-ledger account get the catch-all code; the customer's
    name, which FX would ignore next to a code, goes to 摘要 when it fits (80 wide) and is not there yet."""
    named = lacking & out["nm_cstm"].ne("")
    present = pd.Series(False, index=out.index)
    fits = pd.Series(False, index=out.index)
    joined = pd.Series("", index=out.index, dtype=object)
    if named.any():  # only the name-only customers' lines: is the name in 摘要, and would it fit
        memo, name = out.loc[named, "rcj_slip"].astype(str), out.loc[named, "nm_cstm"].astype(str)
        present.loc[named] = np.strings.find(memo.to_numpy(dtype=str), name.to_numpy(dtype=str)) >= 0
        joined.loc[named] = memo.where(memo.eq(""), memo + " ") + name
        fits.loc[named] = fx_width(joined[named]) <= RCJ_SLIP_WIDTH
    to_memo = named & ~present & fits
    out.loc[to_memo, "rcj_slip"] = joined[to_memo]
    out.loc[lacking, "cd_cstm"] = one_off
    out.loc[lacking, "nm_cstm"] = ""
    head = ("{nm_act}(cd_act {cd_act}) は FX で取引先別管理の科目 (is_usecstmldgr=1) のため、"
            f"取引先コード(cd_cstm) を settings.yaml の one_off_customer_code {one_off} にして送ります")
    found.add(to_memo, "one_off_customer", column, value, lambda i: (
        head.format(**i) + f" (随時の取引先「{i['value']}」: 取引先名は摘要(rcj_slip) に入れました){i['rows']}"),
        account, notice=True)
    found.add(named & present, "one_off_customer", column, value, lambda i: (
        head.format(**i) + f" (随時の取引先「{i['value']}」: 取引先名は摘要(rcj_slip) にあります){i['rows']}"),
        account, notice=True)
    found.add(named & ~present & ~fits, "one_off_customer", column, value, lambda i: (
        head.format(**i) + f" (随時の取引先「{i['value']}」: 摘要(rcj_slip) が {RCJ_SLIP_WIDTH} 桁を超えるため"
        f"取引先名は FX に残りません){i['rows']}。customers.yaml で取引先コードを割り当てると名前が残ります"),
        account, notice=True)
    found.add(lacking & ~named, "one_off_customer", column, value, lambda i: (
        head.format(**i) + f" (取引先のない行){i['rows']}"), account, notice=True)


def _tax(out: pd.DataFrame, found: _Findings, known: pd.Series, catcmtx: pd.Series, account: Mapping[str, pd.Series],
         account_column: pd.Series, tax_column: pd.Series, masters: MasterData) -> None:
    """Drop tax on accounts where none arises (catcmtx=2); check the rest against the rate table."""
    rate = out["cmtxrate"].astype("Int64").fillna(0)
    reduce = out["is_reduce_cmtxrate"].astype("Int64").fillna(0)
    text_sent = ~out["tptn"].isin(["", "0"]) | ~out["tbptn"].isin(["", "0"])
    clear = known & catcmtx.eq(2) & (text_sent | rate.ne(0) | reduce.ne(0) | out["tax_amount"].ne(0))
    found.add(clear, "needless_tax", account_column, out["tax"], lambda i: (
        f"{i['nm_act']}(cd_act {i['cd_act']}) は FX で消費税が発生しない科目 (catcmtx=2) です。"
        f"税区分「{i['values']}」の課税区分(tptn)・消費税率(cmtxrate)・消費税額(amnt_cmtx) は"
        "送っても FX が 0 とみなします (みなし処理) ので、"
        f"送信から外しました{i['rows']}。accounts.yaml の科目か、書き出しの税区分を見直してください"),
        account, notice=True, per_source=False)
    out.loc[clear, ["tptn", "tbptn"]] = ""
    out.loc[clear, ["cmtxrate", "is_reduce_cmtxrate", "cat_purday", "is_autocalccmtx"]] = pd.NA
    out.loc[clear, "tax_amount"] = 0

    rates = masters.rate_table
    day_codes, days = pd.factorize(out["date"], use_na_sentinel=False)  # a month has few dates: match each once
    dated = pd.Series(days).str.fullmatch(CODE_PATTERNS["ymd"]).to_numpy(dtype=bool, na_value=False)[day_codes]
    check = known & ~clear & catcmtx.ne(2) & rate.ne(0) & dated
    if not check.any() or rates.empty:
        return
    position = pd.Series(range(len(out)), index=out.index)
    wanted = pd.DataFrame({"_i": position, "date": out["date"], "cmtxrate": rate.astype("int64"),
                           "is_reduce_cmtxrate": reduce.astype("int64")})[check]
    hit = wanted.merge(rates, how="inner", on=["cmtxrate", "is_reduce_cmtxrate"])
    allowed = hit.loc[(hit["ymd_b"] <= hit["date"]) & (hit["date"] <= hit["ymd_e"]), "_i"]
    bad = check & ~position.isin(allowed)

    def usable(day: str) -> str:
        on = rates[(rates["ymd_b"] <= day) & (day <= rates["ymd_e"])]
        return ", ".join(f"{r}{' 軽減' if d else ''} ({r / 100:g}%)" for r, d in
                         on[["cmtxrate", "is_reduce_cmtxrate"]].itertuples(index=False)) or "なし"

    found.add(bad, "tax_rate", tax_column, out["tax"], lambda i: (
        f"消費税率(cmtxrate) {i['rate']}・軽減税率(is_reduce_cmtxrate) {i['reduce']} は取引日 {i['date']} に FX の税率"
        f"テーブルで使えません{i['rows']}。tax.yaml の「{i['value']}」か取引日を直してください "
        f"(この日に使える税率: {usable(i['date'])})"), {"rate": rate, "reduce": reduce}, extra={"date": out["date"]})


def _fund(out: pd.DataFrame, found: _Findings, known: pd.Series, attr: Callable[[str], pd.Series],
          account: Mapping[str, pd.Series], account_column: pd.Series, masters: MasterData) -> None:
    """A slip with both 資金 and 非資金 accounts needs 収支区分/内訳区分: take a 資金相手科目 default.

    Per the reference, a non-fund account on the debit side gives cd_fbcat_dc/cd_fbbdcat_dc, on
    the credit side cd_fbcat_cc/cd_fbbdcat_cc. When several non-fund lines carry different
    defaults, the line with the largest amount wins (and a notice says so).
    """
    # slips numbered 0..n-1: per-slip facts by bincount and take
    slip, slips = pd.factorize(out["slip_key"], use_na_sentinel=False)
    fund = attr("is_fundapplc").eq(1).to_numpy()

    def on_slip(line_mask: np.ndarray) -> np.ndarray:
        """Whether any line of each line's slip is in ``line_mask``."""
        return np.bincount(slip[line_mask], minlength=len(slips))[slip] > 0

    mixed = pd.Series(~on_slip(~known.to_numpy()) & on_slip(fund) & on_slip(~fund), index=out.index)
    debit = out["side"].eq(DEBIT)
    fbcat = attr("cd_fbcat_dc").where(debit, attr("cd_fbcat_cc")).fillna("")
    fbbdcat = attr("cd_fbbdcat_dc").where(debit, attr("cd_fbbdcat_cc")).fillna("")
    candidate = (mixed & ~fund & fbcat.ne("") & fbbdcat.ne("")).to_numpy()
    pairs = np.full(len(out), "", dtype=object)  # "cd_fbcat/cd_fbbdcat", made only for the candidates
    pairs[candidate] = (fbcat[candidate] + "/" + fbbdcat[candidate]).to_numpy()
    options = pd.DataFrame({"slip": slip, "size": out["amount"].abs().to_numpy(), "order": np.arange(len(out)),
                            "pair": pairs})[candidate]
    best = options.sort_values(["slip", "size", "order"], ascending=[True, False, True]).drop_duplicates("slip")
    pick = np.full(len(slips), -1)
    pick[best["slip"].to_numpy()] = best["order"].to_numpy()
    picked = pick[slip]
    chosen = pd.Series(np.where(picked >= 0, pairs[picked], ""), index=out.index, dtype=object)
    codes, distinct = pd.factorize(chosen)
    out["cd_fbcat"] = pd.Index(distinct).str[:2].to_numpy()[codes]
    out["cd_fbbdcat"] = pd.Index(distinct).str[3:].to_numpy()[codes]
    side_keys = {**account, "dc": debit.map({True: "cd_fbcat_dc/cd_fbbdcat_dc", False: "cd_fbcat_cc/cd_fbbdcat_cc"})}
    found.add(mixed & chosen.eq("") & ~fund, "fund_category", account_column, out["account"], lambda i: (
        f"資金科目 (is_fundapplc=1) と非資金科目を含む仕訳には収支区分(cd_fbcat)・内訳区分(cd_fbbdcat) が必要ですが、"
        f"非資金科目 {i['nm_act']}(cd_act {i['cd_act']}) に FX の資金相手科目の初期値 ({i['dc']}) がありません"
        f"{i['rows']}。"
        "FX の「設定 > 勘定科目情報 > 資金相手科目」で初期値を設定し、converter masters pull を実行してください"),
        side_keys)
    is_best = np.zeros(len(out), dtype=bool)
    is_best[best["order"].to_numpy()] = True
    pair = {**account, "pair": chosen}
    found.add(pd.Series(is_best, index=out.index) & ~chosen.isin(masters.fund_pairs), "fund_category",
              account_column, out["account"], lambda i: (
                  f"{i['nm_act']}(cd_act {i['cd_act']}) の資金相手科目の初期値 収支区分/内訳区分 {i['pair']} は "
                  f"FX の資金収支区分 (fundbalancebreakdowns) にありません{i['rows']}。"
                  "FX の初期値設定を確認してください"),
              pair)
    varied = options.groupby("slip")["pair"].nunique()
    several = np.zeros(len(slips), dtype=bool)
    several[varied.index[varied > 1].to_numpy()] = True
    mixed_defaults = pd.Series(is_best & several[slip], index=out.index)
    found.add(mixed_defaults, "fund_default", account_column, out["account"], lambda i: (
        f"非資金科目ごとに資金相手科目の初期値が異なる仕訳 {i['n']} 件は、金額の最も大きい {i['nm_act']}"
        f"(cd_act {i['cd_act']}) の初期値 収支区分(cd_fbcat)/内訳区分(cd_fbbdcat) {i['pair']} で送ります"
        f"{i['rows']}。別の区分にする仕訳は FX で直してください"), pair, notice=True, per_source=False)
