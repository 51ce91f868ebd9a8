import pandas as pd
import pytest

from converter.convert.normalise import to_amount, to_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("110000", 110000),
        ("110,000", 110000),
        ("１１０，０００", 110000),
        ("▲1,000", -1000),
        ("△1,000", -1000),
        ("(1,000)", -1000),
        ("-1000", -1000),
        ("¥1,000", 1000),
        ("1,000円", 1000),
        ("  2,000 ", 2000),
        ("100.0", 100),
        ("99999999999", 99_999_999_999),
        ("-99999999999", -99_999_999_999),
    ],
)
def test_amounts_are_read(text: str, expected: int) -> None:
    values, bad = to_amount(pd.Series([text]))
    assert not bad.iloc[0]
    assert values.iloc[0] == expected


@pytest.mark.parametrize("text", ["abc", "100.5", "100000000000", "1-000", "()", "1,0a0", "--5"])
def test_non_amounts_are_flagged_not_guessed(text: str) -> None:
    values, bad = to_amount(pd.Series([text]))
    assert bad.iloc[0]
    assert pd.isna(values.iloc[0])


def test_empty_amount_is_na_but_not_bad() -> None:
    values, bad = to_amount(pd.Series(["", "  "]))
    assert not bad.any()
    assert values.isna().all()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026/10/01", "2026-10-01"),
        ("2026/10/1", "2026-10-01"),
        ("2026-10-01", "2026-10-01"),
        ("20261001", "2026-10-01"),
        ("2026年10月1日", "2026-10-01"),
        ("２０２６/１０/０１", "2026-10-01"),
        ("2026-10-01 00:00:00", "2026-10-01"),
        ("46296", "2026-10-01"),  # Excel serial
        (" 2026/10/01 ", "2026-10-01"),
    ],
)
def test_dates_are_zero_padded(text: str, expected: str) -> None:
    values, bad = to_date(pd.Series([text]), "%Y/%m/%d")
    assert not bad.iloc[0]
    assert values.dt.strftime("%Y-%m-%d").iloc[0] == expected


@pytest.mark.parametrize("text", ["2026/13/40", "2026/02/30", "tomorrow", "10/01", "2026-10-01 12:30:00"])
def test_bad_dates_are_flagged(text: str) -> None:
    values, bad = to_date(pd.Series([text]), "%Y/%m/%d")
    assert bad.iloc[0]
    assert pd.isna(values.iloc[0])


@pytest.mark.parametrize("dtype", [object, "str"])
def test_by_value_keeps_missing_values_apart_from_text(dtype: object) -> None:
    """Each distinct value is parsed once; NaN (an empty Excel cell) is a value of its own, whatever
    path the factorization takes for the column's dtype."""
    from converter.convert.normalise import by_value, trim

    column = pd.Series([" 売上", None, "売上", "nan", None, "仕入 "], dtype=dtype)  # type: ignore[call-overload]
    (trimmed,) = by_value(column, lambda u: (trim(u),))
    assert trimmed.isna().tolist() == [False, True, False, False, True, False]
    assert trimmed[~trimmed.isna()].tolist() == ["売上", "売上", "nan", "仕入"]
