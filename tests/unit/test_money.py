from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comeback.domain.money import MoneyError, exponent, format_money, to_major, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("4980", "JPY", 4980),
        ("49.80", "USD", 4980),
        (49.8, "usd", 4980),
        ("1.234", "KWD", 1234),
        (12, "EUR", 1200),
        ("0.0001", "CLF", 1),
        ("1e3", "JPY", 1000),
    ],
)
def test_amounts_become_integer_minor_units_by_iso_4217_exponent(amount, currency, minor):
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1.5", "JPY"),
        ("49.805", "USD"),
        ("abc", "USD"),
        ("NaN", "USD"),
        ("Infinity", "JPY"),
        (True, "JPY"),
        ("1", "XXX"),
    ],
)
def test_amounts_that_do_not_fit_the_currency_are_errors_not_roundings(amount, currency):
    with pytest.raises(MoneyError):
        to_minor(amount, currency)


def test_exponents_of_zero_two_and_three_decimal_currencies():
    assert (exponent("JPY"), exponent("USD"), exponent("KWD")) == (0, 2, 3)


@given(
    st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["JPY", "USD", "KWD", "EUR", "CLF"])
)
def test_minor_to_major_and_back_is_exact(minor, currency):
    assert to_minor(to_major(minor, currency), currency) == minor
    assert isinstance(to_major(minor, currency), Decimal)


def test_human_formats():
    assert format_money(4980, "JPY") == "¥4,980"
    assert format_money(4980, "USD") == "$49.80"
    assert format_money(1234, "KWD") == "1.234 KWD"


@pytest.mark.parametrize("amount", ["４９８０", "٤٩٨٠", "1_000", "49,80", "0x10", "1e99999", "1e300"])
def test_amounts_in_anything_but_ascii_digits_are_refused(amount):
    # Decimal() reads the first three as 4980, 4980 and 1000
    with pytest.raises(MoneyError):
        to_minor(amount, "JPY")
