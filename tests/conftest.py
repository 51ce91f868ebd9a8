"""Shared fixtures: a small mapping folder and a builder for jobcan-profile CSV files."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
MAPPINGS = ROOT / "mappings"

#: The ``write_csv`` fixture: write_csv(rows, name="in.csv", encoding="cp932", header=None) → path.
WriteCsv = Callable[..., Path]

# Talking to the emulator by hand, as FX's reference says a client must.
EMULATOR_TOKEN = "emulator-token"
EMULATOR_HEADERS = {
    "Authorization": f"Bearer {EMULATOR_TOKEN}",
    "Accept": "application/json",
    "Content-Type": "application/json",
    "X-Requested-With": "XMLHttpRequest",
}
EMULATOR_PREFIX = "/fx/tc09999001/tfa/api"
EMULATOR_IMPORT = EMULATOR_PREFIX + "/v2/slips/import"

HEADER = [
    "取引日", "取引種別", "帳票番号", "ステータス", "締切", "取引先コード", "取引先名",
    "借方勘定科目", "借方補助科目", "借方部門", "借方税区分", "借方金額", "借方消費税額",
    "貸方勘定科目", "貸方補助科目", "貸方部門", "貸方税区分", "貸方金額", "貸方消費税額", "摘要", "案件",
]
FIELDS = {
    "date": "取引日", "kind": "取引種別", "doc": "帳票番号", "status": "ステータス", "closed": "締切",
    "ccode": "取引先コード", "cname": "取引先名",
    "dr": "借方勘定科目", "dr_sub": "借方補助科目", "dr_dep": "借方部門", "dr_tax": "借方税区分",
    "dr_amt": "借方金額", "dr_taxamt": "借方消費税額",
    "cr": "貸方勘定科目", "cr_sub": "貸方補助科目", "cr_dep": "貸方部門", "cr_tax": "貸方税区分",
    "cr_amt": "貸方金額", "cr_taxamt": "貸方消費税額", "memo": "摘要", "project": "案件",
}

SETTINGS = """\
ocode: tc09999001
locale: tfa
cd_coopsystem: EX
base_url: http://127.0.0.1:8765
unmapped_customer: {unmapped_customer}
"""
ACCOUNTS = """\
- {account: 売上高, cd_act: "4111"}
- {account: 売掛金, cd_act: "1161"}
- {account: 仕入高, cd_act: "5211"}
- {account: 買掛金, cd_act: "2111"}
- {account: 普通預金, sub_account: みずほ銀行, cd_act: "1131", cd_auxact: "01"}
- {account: 普通預金, cd_act: "1131"}
- {account: 支払手数料, cd_act: "7411"}
"""
TAX = """\
- {tax: 課税売上10%, tptn: "1", cmtxrate: 1000, is_reduce_cmtxrate: 0}
- {tax: 課税売上8%(軽減), tptn: "1", cmtxrate: 800, is_reduce_cmtxrate: 1}
- {tax: 課税仕入10%, tptn: "11", cmtxrate: 1000, cat_purday: 9}
- {tax: 対象外, tptn: "0"}
"""
DEPARTMENTS = '- {department: 営業部, cd_dep: "001"}\n'
CUSTOMERS = '- {customer_code: C-001, cd_cstm: "000001"}\n- {customer: A商店, cd_cstm: "000002"}\n'


def make_mappings(folder: Path, unmapped_customer: str = "name_only") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.yaml").write_text(SETTINGS.format(unmapped_customer=unmapped_customer), "utf-8")
    (folder / "accounts.yaml").write_text(ACCOUNTS, "utf-8")
    (folder / "tax.yaml").write_text(TAX, "utf-8")
    (folder / "departments.yaml").write_text(DEPARTMENTS, "utf-8")
    (folder / "customers.yaml").write_text(CUSTOMERS, "utf-8")
    return folder


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    return make_mappings(tmp_path / "mappings")


def sale(doc: str = "INV-1", amount: int = 110000, tax: int = 10000, **over: str) -> dict[str, str]:
    """One balanced sales row (売掛金 / 売上高 10%), overridable by short field names."""
    row = {
        "date": "2026/10/01", "kind": "売上", "doc": doc, "ccode": "C-001", "dr": "売掛金",
        "dr_tax": "対象外", "dr_amt": str(amount), "cr": "売上高", "cr_dep": "営業部",
        "cr_tax": "課税売上10%", "cr_amt": str(amount), "cr_taxamt": str(tax), "memo": "10月分",
    }
    row.update(over)
    return row


def to_csv(rows: list[dict[str, str]], header: list[str] | None = None) -> str:
    header = header or HEADER
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        named = {FIELDS[k]: v for k, v in row.items()}
        writer.writerow([named.get(h, "") for h in header])
    return buf.getvalue()


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """write_csv(rows, name="in.csv", encoding="cp932") → path of a jobcan export."""

    def write(rows: list[dict[str, str]], name: str = "in.csv", encoding: str = "cp932",
              header: list[str] | None = None) -> Path:
        path = tmp_path / name
        path.write_bytes(to_csv(rows, header).encode(encoding))
        return path

    return write
