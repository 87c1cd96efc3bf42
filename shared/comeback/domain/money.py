"""Money as integers of minor units, by the ISO 4217 exponent of the currency.

Shops send "4980" JPY or "49.80" USD; we store 4980 and 4980. Floats never touch money: numbers
are parsed through `Decimal(str(value))`, and an amount with more decimals than the currency has
is an error rather than a silent rounding.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents that differ from the default of 2 (list of 2024-06, SIX Group).
_EXPONENTS: dict[str, int] = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four decimals
    "CLF": 4, "UYW": 4,
}  # fmt: skip

# Currencies with the default exponent of 2 that we accept; anything else is refused as unknown.
_TWO_DECIMALS = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR
    KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
    MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD
    TZS UAH USD UZS VES WST XCD YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 - a table is easier to check than a list of strings
)


class MoneyError(ValueError):
    pass


# Amounts in minor units stay below 10^18 (a signed 64-bit integer, and DynamoDB-exact).
MAX_MINOR_DIGITS = 18


_ASCII_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?", re.ASCII)


def exponent(currency: str) -> int:
    code = currency.upper()
    if code in _EXPONENTS:
        return _EXPONENTS[code]
    if code in _TWO_DECIMALS:
        return 2
    raise MoneyError(f"unknown currency {currency!r} (expected an ISO 4217 code such as JPY or USD)")


def to_minor(amount: str | int | float | Decimal, currency: str) -> int:
    """'49.80' USD -> 4980; '4980' JPY -> 4980; '1.5' JPY -> error (JPY has no minor unit)."""
    if isinstance(amount, bool):
        raise MoneyError("an amount cannot be a boolean")
    if isinstance(amount, str) and not _ASCII_AMOUNT.fullmatch(amount.strip()):
        # Decimal() also reads full-width "４９８０", Arabic-Indic digits and "1_000": none is a price
        raise MoneyError(f"not a decimal amount in ASCII digits: {amount!r}")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise MoneyError(f"not a decimal amount: {amount!r}") from None
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {amount!r}")
    scaled = value.scaleb(exponent(currency))
    if scaled and scaled.adjusted() >= MAX_MINOR_DIGITS:
        # "1e300" is ASCII and finite, and would still be an integer of 300 digits
        raise MoneyError(f"{amount} is too large an amount")
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more decimals than {currency.upper()} allows ({exponent(currency)})")
    return int(scaled)


def to_major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def format_money(minor: int, currency: str) -> str:
    """Human form for messages: 4980 JPY -> '¥4,980', 4980 USD -> '$49.80'; others '1,234.50 EUR'."""
    exp = exponent(currency)
    major = to_major(minor, currency)
    text = f"{major:,.{exp}f}"
    symbol = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}.get(currency.upper())
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"
