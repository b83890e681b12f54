"""Text that Alexa can speak: cleaned of what a voice can't say, escaped for SSML, within Alexa's length limit."""

import html
import re
import unicodedata

# Alexa rejects a whole response whose outputSpeech.ssml is longer than 8000 characters, tags included.
MAX_SSML_CHARS = 8000
SSML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
# Markdown that LLM agents like to answer with; a voice would read the symbols out or stumble over them.
MARKDOWN = [
    (re.compile(r"```.*?```", re.DOTALL), " "),  # code blocks have no spoken form
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # [text](url) -> text
    (re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE), ""),  # headings
    (re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.MULTILINE), ""),  # list markers
    (re.compile(r"(\*\*|__|\*|`|~~)"), ""),  # emphasis and inline code
]
SENTENCE_END = re.compile(r"[.!?…。](?=\s|$)")
TAG = re.compile(r"<[^>]*>")


def _speakable(char: str) -> bool:
    # Control characters, surrogates and unassigned code points are invalid in SSML (XML) or unspeakable.
    return unicodedata.category(char) not in ("Cc", "Cs", "Cn", "Co") or char in "\t\n\r"


def clean(text) -> str:
    """Plain, speakable text: no markdown, no control characters, whitespace collapsed."""
    if not isinstance(text, str):
        return ""
    for pattern, replacement in MARKDOWN:
        text = pattern.sub(replacement, text)
    text = "".join(char for char in text if _speakable(char))
    return " ".join(text.split())


def from_ssml(markup: str) -> str:
    """The words of an SSML document, without its markup."""
    return html.unescape(TAG.sub(" ", markup))


def escape(text: str) -> str:
    return "".join(SSML_ESCAPES.get(char, char) for char in text)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at the end of a sentence if one is near, else between words."""
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    head = text[: limit - 1]
    sentences = [match.end() for match in SENTENCE_END.finditer(head)]
    if sentences and sentences[-1] > limit // 2:
        return head[: sentences[-1]]
    cut = head.rfind(" ")
    return (head[:cut] if cut > limit // 2 else head).rstrip(" ,;:") + "…"


def ssml(text, limit: int = MAX_SSML_CHARS) -> str:
    """`text` cleaned, escaped and wrapped in <speak>, at most `limit` characters in all."""
    plain = clean(text)
    budget = limit - len("<speak></speak>")
    fits = size = 0  # how many characters of `plain` fit once escaped
    for char in plain:
        size += len(SSML_ESCAPES.get(char, char))
        if size > budget:
            plain = truncate(plain, fits)
            break
        fits += 1
    return f"<speak>{escape(plain)}</speak>"
