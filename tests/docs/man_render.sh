#!/bin/bash
# man_render.sh: every man page (docs/man/*.scd, built by scdoc) renders
# without a single warning from man and groff, and every page the sources
# promise was built.
set -u
: "${SPOOLQ_SOURCE_DIR:?run through meson test}"
if [ -z "${SPOOLQ_MAN_PAGES:-}" ]; then
	echo "SKIP: the man pages were not built: scdoc was not found when" \
	     "meson configured (apt-get install scdoc, then meson setup" \
	     "--reconfigure -Dman=enabled)"
	exit 77
fi
if ! command -v groff >/dev/null; then
	echo "SKIP: groff is not installed (apt-get install groff)"
	exit 77
fi

FAILS=0 CHECKS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# Every .scd source has its page, and nothing else was built.
expected=$(cd "$SPOOLQ_SOURCE_DIR/docs/man" && ls -- *.scd | sed 's/\.scd$//' |
	LC_ALL=C sort)
built=$(for p in $SPOOLQ_MAN_PAGES; do basename "$p"; done | LC_ALL=C sort)
[ "$expected" = "$built" ] ||
	fail "pages built ($built) differ from docs/man/*.scd ($expected):" \
	     "add the page to man_sources in docs/meson.build"

for page in $SPOOLQ_MAN_PAGES; do
	CHECKS=$((CHECKS + 1))
	name=$(basename "$page")
	if [ ! -s "$page" ]; then
		fail "$name: not built or empty ($page)"
		continue
	fi
	# groff with every warning (-ww), tbl for scdoc's tables (-t),
	# output discarded (-z): only the warnings are left on stderr.
	warnings=$(groff -t -man -ww -z "$page" 2>&1)
	[ -z "$warnings" ] || fail "$name: groff -t -man -ww warns:
$warnings"
	# man-db on a narrow terminal: line-breaking trouble shows here.
	if command -v man >/dev/null; then
		warnings=$(MANWIDTH=80 man --warnings=w -l "$page" 2>&1 >/dev/null)
		[ -z "$warnings" ] || fail "$name: man --warnings=w warns:
$warnings"
	fi
	# The header names the page as its file does (qsubmit.1: QSUBMIT 1).
	stem=${name%.*} section=${name##*.}
	header=$(grep -m1 '^\.TH' "$page")
	case $header in
	*"\"$stem\" \"$section\""* | *"$stem $section"*) ;;
	*) fail "$name: header '$header' does not name $stem($section)" ;;
	esac
	# Each page has the sections a reader looks for.
	for s in NAME DESCRIPTION "SEE ALSO"; do
		grep -q "^\.SH \"\?$s\"\?\$" "$page" ||
			fail "$name: no $s section"
	done
done
echo "$CHECKS pages checked, $FAILS failures"
[ "$FAILS" -eq 0 ]
