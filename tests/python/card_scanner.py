"""An independent card-number scanner for what an export wrote, written apart from the Rust
rules (schema::pii) so that a gap in them shows up here.

It decodes JSON escapes and percent-encoding, joins digit groups over any run of the usual
separators (space, tab, - . / +), and reports every 13 to 19 digit window that passes Luhn
and starts with an IIN a card network issues at that length. UUID-shaped tokens, X-Ray trace
ids and long hex tokens (digests, request ids) are identifiers and are not scanned, as the archive's rules say."""

import json
import re

SEPARATORS = " \t-./+"
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\([tn/\\\"rbf])")
_IDENTIFIERS = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"  # UUID
    r"|1-[0-9A-Fa-f]{8}-[0-9A-Fa-f]{24}"  # X-Ray trace id
    r"|(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{32,}"  # digests, long hex ids
    r")(?![0-9A-Za-z])"
)
_CHAIN = re.compile(r"\d+(?:[ \t\-./+]+\d+)*")


def luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d) * (2 if i % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


def issued(d: str) -> bool:
    """Card network IIN ranges by length (Visa, Mastercard, Maestro, Mir, Amex, Diners, JCB,
    Discover, UnionPay)."""
    n = len(d)
    p2, p3, p4 = int(d[:2]), int(d[:3]), int(d[:4])
    if d[0] == "4":
        return True
    if d[0] == "5":
        return (51 <= p2 <= 55 and n == 16) or p2 == 50 or 56 <= p2 <= 59
    if d[0] == "2":
        return (2221 <= p4 <= 2720 and n == 16) or (2200 <= p4 <= 2204 and n >= 16)
    if d[0] == "3":
        return ((p2 in (34, 37)) and n == 15) or \
            ((300 <= p3 <= 305 or p4 == 3095 or p2 in (36, 38, 39)) and n >= 14) or \
            (3528 <= p4 <= 3589 and n >= 16)
    if d[0] == "6":
        return True
    if d[0] == "8":
        return 8100 <= p4 <= 8171 and n >= 16
    return False


def _decode_percent(text: str) -> str:
    def one(m):
        c = chr(int(m.group(1), 16))
        return c if c.isdigit() or c in SEPARATORS or c == "@" else m.group(0)
    return _PERCENT.sub(one, text)


def _decode_json_escapes(text: str) -> str:
    def one(m):
        if m.group(1):
            return chr(int(m.group(1), 16))
        return {"t": "\t", "/": "/"}.get(m.group(2), " ")
    return _JSON_ESCAPE.sub(one, text)


def cards_in_text(text: str) -> list[str]:
    """Card numbers in one value (escapes and percent-encoding decoded first)."""
    text = _decode_percent(_decode_json_escapes(text))
    text = _IDENTIFIERS.sub(lambda m: "#" * len(m.group()), text)
    found = []
    for m in _CHAIN.finditer(text):
        groups = re.findall(r"\d+", m.group())
        for first in range(len(groups)):
            digits = ""
            for g in groups[first:]:
                digits += g
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and issued(digits) and luhn(digits):
                    found.append(digits)
    return found


def cards_in_value(value) -> list[str]:
    """Card numbers anywhere in a value read back: strings, numbers, bytes, lists, dicts
    (keys too); a string that is JSON is also walked decoded."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return cards_in_text(repr(value))
    if isinstance(value, bytes):
        return cards_in_text(value.decode("latin-1"))
    if isinstance(value, str):
        found = cards_in_text(value)
        if value[:1] in "{[":
            try:
                found += cards_in_value(json.loads(value))
            except ValueError:
                pass
        return found
    if isinstance(value, dict):
        return [c for k, v in value.items() for c in cards_in_value(k) + cards_in_value(v)]
    if isinstance(value, (list, tuple)):
        return [c for v in value for c in cards_in_value(v)]
    return cards_in_text(str(value))
