"""Worded PII in transcripts: emails, street addresses, dates of birth and named people.

=========  ===================================================================
type       rule
=========  ===================================================================
email      name@domain.tld; spoken "jane dot doe at example dot com", also with
           the name spelled out ("j o h n at example dot com"); after "my email is"
           everything up to a domain within nine words, however garbled ("Jane.
           Doe. Have an example .com": ASR lost the "at").
address    a house number (written or spoken) + up to four capitalised words + a
           street suffix (Street, Ave, Road...), with an optional unit, town, state
           and ZIP; "P.O. Box 12"; a ZIP/postcode after "zip"/"postcode".
dob        a date (March 5th 1985, 5 March, 03/05/1985, spoken years) within a few
           words after "born"/"birth"/"birthday"/"dob", or any full date whose year
           is before 2010 (a birth year far more often than a service date).
name       a capitalised name after "my name is", "this is", "speaking with",
           "Mr/Mrs/Ms/Dr", "name's", before "speaking"; letters spelled out one by
           one ("P A T E L") — on top of the NER model (``pii_ner.py``).
=========  ===================================================================
"""

from __future__ import annotations

import re

_TLDS = r"(?:com|net|org|edu|gov|io|co|uk|us|ca|de|fr|info|biz|me)"
_EMAIL_WRITTEN = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._%+-]*\s?@\s?[A-Za-z0-9-]+(?:\s?\.\s?[A-Za-z0-9-]+)*\s?\.\s?[A-Za-z]{2,}\b"
)
_EMAIL_SPOKEN = re.compile(
    r"(?<![\w'])(?:[a-z0-9]\s+)*[a-z0-9][a-z0-9._-]*(?:\s+(?:dot|underscore|dash)\s+[a-z0-9._-]+)*"
    r"\s+(?:at|@)\s+[a-z0-9-]+(?:(?:\.|\s+dot\s+)[a-z0-9-]+)*(?:\.|\s+dot\s+)" + _TLDS + r"\b",
    re.IGNORECASE,
)
#: After "email (address) is", up to the first domain-like token: ASR often mangles the
#: spoken form ("at" heard as "have an"), so the cue marks the whole address.
_EMAIL_CUED = re.compile(
    r"\be-?mail(?:\s+address)?\s+(?:is|was|it's|would\s+be)\s*:?\s+"
    r"((?:\S+\s+){0,8}?[a-z0-9-]+\s?(?:\.|\s+dot\s+)\s?" + _TLDS + r")\b",
    re.IGNORECASE,
)

_NUMBER_WORD = (
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
    r"|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty"
    r"|sixty|seventy|eighty|ninety|hundred|thousand)"
)
_HOUSE_NUMBER = rf"(?:\d+[A-Za-z]?|{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD})*)"
_STREET_SUFFIX = (
    r"(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl"
    r"|circle|cir|terrace|parkway|pkwy|highway|hwy|square|sq|crescent|close|row|alley"
    r"|trail|plaza)"
)
_STREET_WORD = r"(?:[A-Z][A-Za-z'-]*|\d+(?:st|nd|rd|th))"
_ADDRESS = re.compile(
    rf"\b{_HOUSE_NUMBER}\s+(?:{_STREET_WORD}\s+){{1,4}}(?i:{_STREET_SUFFIX})\b\.?"
    r"(?:,?\s+(?i:apartment|apt|unit|suite|flat|number|#)\.?\s*[\w-]+)?"
    r"(?:,?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?(?=[,\s]+(?:[A-Z]{2}\b|\d{5})))?"
    r"(?:,?\s+[A-Z]{2}\b)?(?:,?\s+\d{5}(?:-\d{4})?)?"
)
_PO_BOX = re.compile(r"\b(?i:p\.?\s?o\.?\s+box|post\s+office\s+box)\s+\d+", re.UNICODE)
_POSTCODE = re.compile(
    r"\b(?i:zip|zip\s+code|postcode|postal\s+code)(?:\s+(?i:is|was))?\s*:?\s+"
    r"(\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})\b"
)

_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)"
)
_ORDINAL_WORD = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh"
    r"|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth"
    r"|nineteenth|twentieth|thirtieth|(?:twenty|thirty)[\s-](?:first|second|third|fourth"
    r"|fifth|sixth|seventh|eighth|ninth))"
)
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL_WORD})"
_SPOKEN_YEAR = (
    r"(?:nineteen[\s-]+(?:hundred|oh[\s-]+\w+|(?:twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety)(?:[\s-]+(?:one|two|three|four|five|six|seven|eight|nine))?|ten|eleven"
    r"|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
    r"|two[\s-]+thousand(?:[\s-]+(?:and[\s-]+)?\w+)?)"
)
_YEAR = rf"(?:\d{{4}}|'\d{{2}}|{_SPOKEN_YEAR})"
_DATE = re.compile(
    rf"(?i:\b{_MONTH}\.?\s+(?:the\s+)?{_DAY}(?:,?\s+(?:of\s+)?{_YEAR})?\b"
    rf"|\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\.?(?:,?\s+{_YEAR})?\b"
    rf"|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})\b"
    rf"|\b{_MONTH}\.?,?\s+{_YEAR}\b)"
)
_BIRTH_CONTEXT = re.compile(r"\b(?:born|birth|birthday|dob|d\s?o\s?b|birthdate)\b", re.I)
_BIRTH_WINDOW_CHARS = 60
_YEAR_DIGITS = re.compile(r"\b(1[89]\d{2}|20\d{2})\b|'(\d{2})\b")
_LAST_BIRTH_YEAR = 2010

_NAME_TOKEN = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
_NAME_CONTEXT = re.compile(
    r"\b(?:(?i:my\s+name\s+is|my\s+name's|name\s+is|name's|this\s+is|it's|speaking\s+with"
    r"|talking\s+to|ask\s+for|i'm|i\s+am)\s+"
    r"|(?:Mr|Mrs|Ms|Miss|Dr|Mister|Missus)\.?\s+)"
    rf"({_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{0,2}})"
)
#: Strong cues name whoever follows even in an uncased transcript ("hi my name is maria
#: gonzalez i want to ..."): up to two words that are not function words.
_NAME_CUED_UNCASED = re.compile(
    r"\b(?i:my\s+name\s+is|my\s+name's|name\s+is|name's|call\s+me)\s+"
    r"((?i:[a-z]+(?:[-'][a-z]+)?)(?:\s+(?i:[a-z]+(?:[-'][a-z]+)?))?)"
)
#: Words after "my name is" that are not a name (so the uncased rule stops there).
_NOT_NAME_WORDS = {
    "a", "an", "and", "the", "i", "im", "i'm", "is", "not", "just", "so", "um", "uh", "er",
    "erm", "ah", "oh", "well", "yes", "yeah", "no", "okay", "ok", "it", "its", "it's",
    "that", "this", "on", "in", "at", "for", "from", "with", "calling", "but",
    "my", "me", "we", "you", "your", "was", "be", "been", "actually", "like", "here",
    "speaking", "want", "wanted", "need", "have", "had", "to", "of", "please", "thanks",
    "thank", "sir", "madam", "ma'am", "mister", "missus", "mr", "mrs", "ms", "dr",
    "spelled", "spelt", "hi", "hello", "hey", "good", "morning", "afternoon", "evening",
}  # fmt: skip
_NAME_SPEAKING = re.compile(rf"\b({_NAME_TOKEN})(?=,?\s+(?i:speaking|here\s+from)\b)")
#: Letters spelled out one by one ("P A T E L", "S-M-I-T-H"): names, emails, postcodes.
_SPELLED = re.compile(r"(?<![\w'])(?:[A-Za-z][\s,.-]+){2,}[A-Za-z](?![\w'])")
#: Capitalised words that follow "this is"/"I'm" and are not names.
_NOT_NAMES = {
    "I",
    "It",
    "That",
    "This",
    "The",
    "Yes",
    "No",
    "Okay",
    "Ok",
    "Sure",
    "Just",
    "Not",
    "So",
    "Really",
    "Calling",
    "Sorry",
    "Great",
    "Good",
    "Fine",
    "Thank",
    "Thanks",
    "Hello",
    "Hi",
    "Here",
    "Still",
    "Customer",
    "Support",
    "Service",
    "Billing",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
}


def email_spans(text: str) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for rx in (_EMAIL_WRITTEN, _EMAIL_SPOKEN):
        for m in rx.finditer(text):
            if not any(m.start() < b and a < m.end() for a, b, _ in spans):
                spans.append((m.start(), m.end(), "email"))
    for m in _EMAIL_CUED.finditer(text):
        a, b = m.span(1)
        spans = [s for s in spans if not (a <= s[0] and s[1] <= b)]  # the cued span covers
        if not any(a < y and x < b for x, y, _ in spans):
            spans.append((a, b, "email"))
    return spans


def address_spans(text: str) -> list[tuple[int, int, str]]:
    spans = [(m.start(), m.end(), "address") for m in _ADDRESS.finditer(text)]
    spans += [(m.start(), m.end(), "address") for m in _PO_BOX.finditer(text)]
    spans += [(m.start(1), m.end(1), "address") for m in _POSTCODE.finditer(text)]
    return spans


def _old_year(date_text: str) -> bool:
    m = _YEAR_DIGITS.search(date_text)
    if m and m.group(1):
        return int(m.group(1)) < _LAST_BIRTH_YEAR
    if m and m.group(2):
        return True  # '85: a two-digit year said aloud is rarely this decade
    low = date_text.lower()
    if "nineteen" in low.split() or re.search(r"\bnineteen[\s-]+\w+\s*$", low):
        return True
    return bool(re.search(r"two[\s-]+thousand(?:[\s-]+and)?(?:[\s-]+\w+)?$", low)) and not (
        re.search(r"(?:ten|eleven|twelve|teen|twenty|thirty)$", low)
    )


def dob_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for m in _DATE.finditer(text):
        before = text[max(0, m.start() - _BIRTH_WINDOW_CHARS) : m.start()]
        if _BIRTH_CONTEXT.search(before) or _old_year(m.group()):
            spans.append((m.start(), m.end(), "dob"))
    return spans


def name_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for m in _NAME_CONTEXT.finditer(text):
        words = m.group(1).split()
        keep = 0
        for w in words:
            if w in _NOT_NAMES:
                break
            keep += 1
        if keep:
            end = m.start(1) + len(" ".join(words[:keep]))
            spans.append((m.start(1), end, "name"))
    for m in _NAME_CUED_UNCASED.finditer(text):
        words = m.group(1).split()
        keep = 0
        for w in words:
            if w.lower() in _NOT_NAME_WORDS:
                break
            keep += 1
        if keep:
            spans.append((m.start(1), m.start(1) + len(" ".join(words[:keep])), "name"))
    for m in _NAME_SPEAKING.finditer(text):
        if m.group(1) not in _NOT_NAMES:
            spans.append((m.start(1), m.end(1), "name"))
    for m in _SPELLED.finditer(text):
        letters = re.findall(r"[A-Za-z]", m.group())
        if len(letters) >= 3 and not all(x.lower() in "aio" for x in letters):
            spans.append((m.start(), m.end(), "name"))
    return spans
