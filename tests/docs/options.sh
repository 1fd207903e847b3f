#!/bin/bash
# options.sh: every long option a command accepts is documented in its man
# page, offered by the bash completion and mentioned by --help; and the man
# pages and the completion offer no option the command does not accept.
#
# What a command accepts is read from its getopt_long option table in the
# C source (the lines '{ "name", no_argument, ...'): that table is what
# parses the command line, so an option added there and nowhere else fails
# this test. --help text is checked too, but it is not the reference (it
# is free text, and leaves out --help and --version themselves).
set -u
: "${SPOOLQ_SOURCE_DIR:?run through meson test}"
: "${QSUBMIT:?run through meson test}"
SRC=$SPOOLQ_SOURCE_DIR
FAILS=0 CHECKS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

source_of() {
	case $1 in
	qworker) echo workers/qworker.c ;;
	*) echo "cmd/$1.c" ;;
	esac
}
binary_of() {
	case $1 in
	qsubmit) echo "$QSUBMIT" ;; qworker) echo "$QWORKER" ;;
	qstatus) echo "$QSTATUS" ;; qcollect) echo "$QCOLLECT" ;;
	qcancel) echo "$QCANCEL" ;; qrun) echo "$QRUN" ;;
	esac
}

# The long options of a C file's option table, one per line.
table_options() {
	grep -oE '\{ *"[a-z][a-z0-9-]*", *(no|required|optional)_argument' \
		"$SRC/$1" | sed -E 's/^\{ *"([^"]*)".*/\1/' | LC_ALL=C sort -u
}

# The options a man page documents: its OPTIONS entries are the lines
# that start with the option in bold ("*--spool* _DIR_", "*-h*, *--help*").
man_options() {
	grep -oE '^(\*-[A-Za-z]\*, )?\*--[a-z0-9-]+\*' "$1" |
		sed -E 's/.*\*--([a-z0-9-]+)\*$/\1/' | LC_ALL=C sort -u
}

# The options the completion offers after "CMD --".
completion_options() {
	bash -c '
		source "$1"
		COMP_WORDS=("$2" --) COMP_CWORD=1
		_spoolq "$2" -- "$2"
		printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$SRC/cmd/completion/spoolq.bash" "$1" |
		sed 's/^--//' | LC_ALL=C sort -u
}

for cmd in qsubmit qworker qstatus qcollect qcancel qrun; do
	src=$(source_of "$cmd")
	page=docs/man/$cmd.1.scd
	table=$(table_options "$src")
	if [ "$(echo "$table" | wc -l)" -lt 3 ]; then
		fail "$cmd: found no option table in $src (the pattern" \
		     "'{ \"name\", no_argument' no longer matches?)"
		continue
	fi
	documented=$(man_options "$SRC/$page")
	offered=$(completion_options "$cmd")
	help=$("$(binary_of "$cmd")" --help)
	for opt in $table; do
		CHECKS=$((CHECKS + 1))
		grep -qx -- "$opt" <<<"$documented" ||
			fail "$cmd: --$opt is accepted ($src) but not documented" \
			     "in $page: add an entry '*--$opt*' under OPTIONS"
		grep -qx -- "$opt" <<<"$offered" ||
			fail "$cmd: --$opt is accepted ($src) but not completed:" \
			     "add it to _spoolq_opts_$cmd in" \
			     "cmd/completion/spoolq.bash"
		case $opt in help | version) continue ;; esac
		grep -qE -- "--$opt([^a-z0-9-]|\$)" <<<"$help" ||
			fail "$cmd: --$opt is accepted ($src) but '$cmd --help'" \
			     "does not mention it"
	done
	for opt in $documented; do
		grep -qx -- "$opt" <<<"$table" ||
			fail "$cmd: $page documents --$opt, which $src does not" \
			     "accept"
	done
	for opt in $offered; do
		grep -qx -- "$opt" <<<"$table" ||
			fail "$cmd: the completion offers --$opt, which $src" \
			     "does not accept"
	done
done
echo "$CHECKS options checked, $FAILS failures"
[ "$FAILS" -eq 0 ]
