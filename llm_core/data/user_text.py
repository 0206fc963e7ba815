"""Text a user pastes or uploads: bounded, decoded with one explicit policy, and cleaned.

Decoding policy for uploaded bytes:
- UTF-8, with or without a byte-order mark (the BOM is dropped);
- UTF-16 with a byte-order mark (what Windows Notepad writes as "Unicode") is decoded as UTF-16;
- UTF-32, invalid UTF-8, and binary files (NUL bytes, or the signature of a PNG, JPEG, GIF,
  PDF, ZIP or gzip file) are rejected with a message that says what was found.
No guessing of legacy encodings: a Latin-1 file fails as invalid UTF-8 and the message says to
save it as UTF-8.

Cleaning, for bytes and str alike: lone surrogates (which a browser can send) become U+FFFD,
Windows and old Mac line ends become "\\n", control characters other than newline and tab are
dropped, and the text is put in Unicode NFC form so that "é" typed two ways is one string.
Emoji, CJK and combining marks pass through unchanged. Empty or whitespace-only text is refused.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF87a": "a GIF image",
    b"GIF89a": "a GIF image",
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (also .docx, .xlsx)",
    b"\x1f\x8b": "a gzip archive",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls except \t and \n


class UserTextError(ValueError):
    """Text that cannot be used, with a message meant for the user."""


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise UserTextError("the file is UTF-32 encoded; save it as UTF-8 and upload it again")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")  # the BOM tells the byte order and is removed
        except UnicodeDecodeError as e:
            raise UserTextError(f"the file starts like UTF-16 but is not valid UTF-16 ({e.reason})") from None
    for signature, what in _SIGNATURES.items():
        if data.startswith(signature):
            raise UserTextError(f"the file is {what}, not text; upload a plain-text (.txt) file")
    if b"\x00" in data:
        position = data.index(b"\x00")
        raise UserTextError(f"the file contains a NUL byte at position {position:,}, so it is binary, not text")
    try:
        return data.decode("utf-8-sig")  # drops a UTF-8 BOM if there is one
    except UnicodeDecodeError as e:
        raise UserTextError(
            f"the file is not valid UTF-8: byte 0x{data[e.start]:02x} at position {e.start:,} "
            "cannot be decoded; save the file as UTF-8 and upload it again"
        ) from None


def clean_text(text: str) -> str:
    """Lone surrogates -> U+FFFD, line ends -> '\\n', control characters dropped, NFC."""
    # a surrogate *pair* that arrived as two code points is joined; a lone one is replaced
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return unicodedata.normalize("NFC", text)


def read_user_text(data: bytes | str, max_chars: int, max_bytes: int | None = None) -> str:
    """Decode, bound and clean user text, or raise UserTextError saying what to change.

    Bounds are checked on what the user gave (the upload's bytes, then its characters), before
    any expensive work; max_bytes defaults to 4 bytes per allowed character, UTF-8's worst case.
    """
    uploaded = isinstance(data, bytes | bytearray)
    if uploaded:
        max_bytes = 4 * max_chars if max_bytes is None else max_bytes
        if len(data) > max_bytes:
            raise UserTextError(f"the file is {len(data):,} bytes; the limit is {max_bytes:,}")
        data = _decode(bytes(data))
    if len(data) > max_chars:
        raise UserTextError(f"text is {len(data):,} characters; the limit is {max_chars:,}")
    text = clean_text(data)
    if not text and data:  # nothing left once the control characters are gone
        raise UserTextError("the file holds only control characters, no text" if uploaded else
                            "text holds only control characters, which are removed; type some words")
    if not text:
        raise UserTextError("the file is empty: it holds no text" if uploaded else "text is empty; type some text")
    if not text.strip():
        raise UserTextError("the file contains only whitespace" if uploaded else
                            "text contains only whitespace; type some words")
    return text
