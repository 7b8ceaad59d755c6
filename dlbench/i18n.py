"""What dlbench says to a person, in the user's language: the standard gettext catalog.

English is the source language: every message is written in English where it is made
and marked with `_()` (translated at once) or `N_()` (a constant translated where it is
shown). The translations live in `dlbench/locale/<language>/LC_MESSAGES/dlbench.po`,
compiled to the `dlbench.mo` beside it, which is what gettext reads; CONTRIBUTING.md
says how to add a message. Only what is shown is translated: numbers, units, names and
every file dlbench writes for a program to read (result files, JSON) stay as they are.

The language: `--lang`, else $DLBENCH_LANG, else the locale ($LANGUAGE, $LC_ALL,
$LC_MESSAGES, $LANG, in gettext's order); English where no catalog matches. Standard
library only, so that every layer may mark its messages.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "dlbench"
LOCALE_DIR = Path(__file__).parent / "locale"
ENV_VAR = "DLBENCH_LANG"
SOURCE_LANGUAGE = "en"

_catalog: gettext.NullTranslations | None = None


def languages() -> list[str]:
    """English and every language with a compiled catalog."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    return [SOURCE_LANGUAGE, *found]


def use(language: str | None = None) -> None:
    """Speak `language` from now on; None: $DLBENCH_LANG, else the locale."""
    global _catalog
    chosen = language or os.environ.get(ENV_VAR) or None
    # languages=None: gettext reads LANGUAGE, LC_ALL, LC_MESSAGES and LANG itself.
    _catalog = gettext.translation(DOMAIN, LOCALE_DIR, languages=[chosen] if chosen else None,
                                   fallback=True)


def current() -> str:
    """The language in force: its catalog's, or English."""
    info = _translations().info()
    return info.get("language", SOURCE_LANGUAGE) or SOURCE_LANGUAGE


def _translations() -> gettext.NullTranslations:
    if _catalog is None:
        use()
    assert _catalog is not None
    return _catalog


def _(message: str) -> str:
    """`message` in the language in force."""
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, in the language in force."""
    return _translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a constant for the catalog; `_()` translates it where it is shown."""
    return message
