#!/bin/sh
# tests/check-exports.sh: libpafka.so must export exactly the interposed libc names listed once in
# src/real.h (PF_REAL_FUNCS) and nothing else: every internal symbol is hidden.
set -u
lib=${PAFKA_TEST_LIB:?}
src=${PAFKA_TOP_SRCDIR:?}
command -v nm >/dev/null || { echo "SKIP: nm (binutils) not installed"; exit 77; }
exp=$(mktemp) tab=$(mktemp)
trap 'rm -f "$exp" "$tab"' EXIT
nm -D --defined-only "$lib" | awk '{print $3}' | sort >"$exp"
grep -oE '^[[:space:]]*X\([^,]+, [a-z_0-9]+' "$src/src/real.h" | awk '{print $NF}' | sort >"$tab"
if ! diff -u "$tab" "$exp"; then
	echo "FAIL: exported symbols differ from src/real.h (- table, + exported)"
	exit 1
fi
n=$(wc -l <"$exp")
[ "$n" -ge 80 ] || { echo "FAIL: only $n symbols exported"; exit 1; }
echo "PASS: $n exported symbols, all from the real-function table"
