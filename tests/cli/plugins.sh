#!/bin/bash
# plugins.sh: user kernels from plugins through the real tools: qsubmit
# --plugin and qworker --plugin with the example plugin, the errors (exit
# 2, spool unchanged), the chunked-array kernels against the plain loop,
# and a plugin built outside meson with nothing but the headers.
. "$TESTS_DIR/cli/lib.sh"
P=$QEXAMPLE_PLUGIN
cd "$T"

# ---- square through the tools ----
job=$("$QSUBMIT" --plugin "$P" --kernel square --arg n=7)
expect_eq "qsubmit --plugin exit status" 0 $?
check "qsubmit prints a job id ('$job')" grep -Eq '^[0-9]+$' <<< "$job"
"$QWORKER" --plugin "$P" --exit-when-idle
expect_eq "qworker --plugin exit status" 0 $?
expect_eq "square n=7" 49 "$("$QCOLLECT" "$job")"

out=$("$QSUBMIT" --list-kernels --plugin "$P")
check "--list-kernels shows the plugin's kernels and where from ($out)" \
	grep -qxF "         from: $P" <<< "$out"
check "--list-kernels lists square" grep -q '^square ' <<< "$out"
check "--list-kernels still lists the built-ins" grep -q '^sum ' <<< "$out"

# ---- errors: exit 2, a message naming the path, spool unchanged ----
before=$(spool_snapshot)
err=$("$QWORKER" --plugin /etc/passwd --exit-when-idle 2>&1)
expect_eq "qworker --plugin /etc/passwd exit status" 2 $?
expect_eq "qworker --plugin /etc/passwd message" \
	"qworker: cannot load plugin '/etc/passwd': not a shared object (no ELF header); build plugins with cc -shared -fPIC \$(pkg-config --cflags spoolq) (see docs/kernels.md)" \
	"$err"
err=$("$QWORKER" --plugin "$T/missing.so" --exit-when-idle 2>&1)
expect_eq "qworker --plugin missing exit status" 2 $?
expect_eq "qworker --plugin missing message" \
	"qworker: cannot load plugin '$T/missing.so': No such file or directory" \
	"$err"

err=$("$QSUBMIT" --kernel square --arg n=7 2>&1)
expect_eq "unknown kernel without --plugin: exit status" 2 $?
expect_eq "unknown kernel without --plugin: message" \
	"qsubmit: unknown kernel 'square' (qsubmit --list-kernels shows them); for a plugin's kernels give --plugin PATH" \
	"$err"
err=$("$QSUBMIT" --plugin /etc/passwd --kernel square 2>&1)
expect_eq "qsubmit --plugin /etc/passwd exit status" 2 $?
check "qsubmit --plugin /etc/passwd message ($err)" \
	grep -qF "qsubmit: cannot load plugin '/etc/passwd': not a shared object" <<< "$err"
expect_eq "the spool is unchanged by refused plugins" "$before" \
	"$(spool_snapshot)"

# ---- the chunked-array example: 16 blocks, a sum, two workers ----
blocks=$("$QSUBMIT" --plugin "$P" --kernel sincos_block --array 0..15 \
	--arg n=40 --arg block=10 --arg seed=3 --threads 2)
total=$("$QSUBMIT" --kernel sum --after "$blocks")
start_worker --plugin "$P" --exit-when-idle --cpus 2
start_worker --plugin "$P" --exit-when-idle --cpus 2
wait "${PIDS[@]}"
PIDS=()
got=$("$QCOLLECT" "$total")
want=$("$QSINCOS_PLAIN" 40 3 | awk '$1 == "total" { print $2 }')
check "sum of 16 blocks ($got) is the plain loop's ($want) to 1e-9" \
	awk -v a="$got" -v b="$want" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		exit !(b != 0 && d <= 1e-9 * (b < 0 ? -b : b)) }'

# ---- a plugin built outside meson, with only the headers ----
if command -v cc >/dev/null; then
	cat > cube.c <<'EOF'
#include <spoolq/kernel.h>

static int run(struct q_ctx *ctx)
{
	long n;
	if (q_ctx_arg_long(ctx, "n", 2, &n) < 0)
		return 2;
	return q_ctx_printf(ctx, "%ld\n", n * n * n) < 0;
}

static const struct q_kernel cube = { Q_KERNEL_ABI, "cube", "n cubed",
				      "n=INT", run };
Q_PLUGIN(&cube);
EOF
	# Strict, hidden visibility, and no -lspoolq (docs/kernels.md).
	cc -std=c17 -Wall -Wextra -pedantic -Werror -fvisibility=hidden \
		-shared -fPIC -I"$TESTS_DIR/../libq/include" -o libcube.so cube.c
	expect_eq "cc builds a plugin from the headers alone" 0 $?
	check "the plugin does not link libspoolq" \
		bash -c "! readelf -d libcube.so | grep -q libspoolq"
	job=$("$QSUBMIT" --plugin libcube.so --plugin "$P" --kernel cube \
		--arg n=3)
	job2=$("$QSUBMIT" --plugin "$P" --kernel square --arg n=-12)
	# A bare file name is a file in the current directory.
	"$QWORKER" --plugin libcube.so --plugin "$P" --exit-when-idle
	expect_eq "qworker with two plugins exit status" 0 $?
	expect_eq "cube n=3" 27 "$("$QCOLLECT" "$job")"
	expect_eq "square n=-12" 144 "$("$QCOLLECT" "$job2")"
else
	echo "no cc: skipping the plugin built outside meson" >&2
fi
check "the example plugin does not link libspoolq" \
	bash -c "! readelf -d '$P' | grep -q libspoolq"

finish
