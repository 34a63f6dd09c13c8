"""HTML to WhatsApp text, truncation, and canonical URLs: what editors' markup becomes on a phone."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bs4 import BeautifulSoup, NavigableString, Tag

_DROP_TAGS = {"script", "style", "iframe", "noscript", "form", "button", "svg", "object",
              "embed", "video", "audio", "template", "head"}
_BLOCK_TAGS = {"p", "div", "section", "article", "header", "footer", "blockquote", "h1", "h2",
               "h3", "h4", "h5", "h6", "table", "tr", "figure", "figcaption", "ul", "ol", "dl"}
_INLINE_MARKS = {"b": "*", "strong": "*", "i": "_", "em": "_", "s": "~", "del": "~",
                 "strike": "~"}
_SHARE_HINTS = ("share", "sharedaddy", "social", "jp-relatedposts", "addtoany", "wp-block-buttons")
_TRACKING_PARAMS = re.compile(
    r"^(utm_.*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|mkt_tok|igshid|yclid|"
    r"_hsenc|_hsmi|xtor|ref_src|spm|at_medium|at_campaign|ncid|cmpid|__twitter_impression)$",
    re.IGNORECASE,
)


def html_to_whatsapp(html: str) -> str:
    """Render editor HTML as WhatsApp-formatted text (*bold*, _italic_, ~strike~, ```mono```)."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return _tidy(html)
    soup = BeautifulSoup(html, "html.parser")
    return _tidy(_render(soup))


def _is_noise(tag: Tag) -> bool:
    if tag.name in _DROP_TAGS:
        return True
    if tag.name == "img":
        return True  # images travel as image_url, not inline
    classes = " ".join(tag.get("class") or []).lower() + " " + str(tag.get("id") or "").lower()
    return any(hint in classes for hint in _SHARE_HINTS)


def _render(node: Tag) -> str:
    out: list[str] = []
    for child in node.children:
        if isinstance(child, NavigableString):
            if type(child).__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction"):
                continue
            out.append(re.sub(r"\s+", " ", str(child)))
            continue
        if not isinstance(child, Tag) or _is_noise(child):
            continue
        name = child.name
        if name == "br":
            out.append("\n")
        elif name in _INLINE_MARKS:
            inner = _render(child).strip()
            if inner:
                mark = _INLINE_MARKS[name]
                out.append(f"{mark}{inner}{mark}")
        elif name == "pre":
            inner = child.get_text().strip("\n")
            if inner.strip():
                out.append(f"\n```{inner}```\n")
        elif name == "code":
            inner = child.get_text()
            if inner.strip():
                out.append(f"```{inner}```")
        elif name == "li":
            out.append("\n• " + _render(child).strip() + "\n")
        elif name in _BLOCK_TAGS:
            out.append("\n\n" + _render(child) + "\n\n")
        else:
            out.append(_render(child))
    return "".join(out)


def _tidy(text: str) -> str:
    text = text.replace("\xa0", " ").replace("\u200b", "")
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"\n• \n", "\n", text)
    text = re.sub(r"(?<=\n)(• [^\n]*)\n\n(?=• )", r"\1\n", text)
    return text.strip()


def html_to_plain(html: str) -> str:
    """Plain text of an HTML fragment, without WhatsApp marks (for matching and fingerprints)."""
    if not html:
        return ""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    return _tidy(soup.get_text(" "))


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, ending with ``…``."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(ellipsis))
    cut = text[:room]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > room * 0.6:
        cut = cut[:space]
    return cut.rstrip(" \n.,;:—-") + ellipsis


def canonical_url(url: str) -> str:
    """Lowercase scheme and host, no fragment, no tracking parameters, no default port."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port and not (
        (scheme == "http" and parts.port == 80) or (scheme == "https" and parts.port == 443)
    ) else None
    netloc = f"{host}:{port}" if port else host
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
         if not _TRACKING_PARAMS.match(k)]
    )
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, query, ""))
