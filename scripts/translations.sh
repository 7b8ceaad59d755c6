#!/usr/bin/env bash
# Brings the message catalogs up to date with the code (GNU gettext: apt-get install gettext).
#
#   1. extracts every message marked _(), N_() or ngettext() under dlbench/ into
#      dlbench/locale/dlbench.pot (the template, English);
#   2. merges it into each dlbench/locale/<language>/LC_MESSAGES/dlbench.po: new messages
#      arrive with an empty msgstr (shown in English until translated), changed ones are
#      marked fuzzy, removed ones are commented out at the end;
#   3. compiles each .po into the dlbench.mo beside it, which is what dlbench reads.
#
# Translate by filling in the msgstr line of each new message, then run this again.
# tests/test_i18n.py fails while a marked message has no translation or a .mo is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
locale=dlbench/locale
xgettext --language=Python --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=ngettext:1,2 \
    --flag=_:1:no-python-format --flag=N_:1:no-python-format --flag=ngettext:1:no-python-format \
    --flag=ngettext:2:no-python-format --no-location --no-wrap --sort-output --package-name=dlbench \
    --output="$locale/dlbench.pot" $(git ls-files 'dlbench/*.py' | sort)
# The date xgettext stamps would change the template on every run.
sed -i "/^\"POT-Creation-Date: /d" "$locale/dlbench.pot"
for po in "$locale"/*/LC_MESSAGES/dlbench.po; do
    msgmerge --quiet --update --backup=none --no-wrap --no-location --sort-output "$po" "$locale/dlbench.pot"
    msgfmt --check-format --output-file="${po%.po}.mo" "$po"
    msgfmt --statistics --output-file=/dev/null "$po"
done
