#!/usr/bin/env bash
# paced-100k.sh: the README's paced apply benchmark, through the rebind
# binary as an operator runs it. A lab serving the cloud-100k scenario
# (100,000 cloud-only users without an immutable ID) throttles Graph at
# the small tier (3,500 resource units per 10 s, 3,000 writes per 150 s);
# cli/testdata/paced-100k gives every user whose UPN starts with PREFIX an
# immutable ID, its target paced under the same tier. The apply is killed
# with SIGKILL after KILL_AFTER seconds and resumed; then the lab's counts
# and a new plan (which must change nothing) are read.
#
#   scripts/paced-100k.sh [PREFIX [KILL_AFTER]]
#
# PREFIX cu (all 100,000 users, about 88 minutes) by default; cu001 is
# 1,000 users (about a minute), cu01 10,000. KILL_AFTER is 2700 s by
# default. It prints what it measured, and exits 1 when any user was
# written more than once, a write failed, the lab answered 429 or the
# share of the write quota used is under 90%.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-cu}
kill_after=${2:-2700}
work=$(mktemp -d)
echo "work directory: $work"
go build -o "$work/rebind" ./cmd/rebind
rb="$work/rebind"
. scripts/cloud100k-lab.sh

t0=$(now)
"$rb" plan cli/testdata/paced-100k/main.hcl -var "prefix=$prefix" -out "$work/p.plan" >"$work/plan.txt"
t1=$(now)
n=$(sed -n 's/^Plan: 0 to create, \([0-9]*\) to update, .*/\1/p' "$work/plan.txt" | head -1)
[ -n "$n" ] || { echo "the plan is not N updates only:"; grep -m1 '^Plan:' "$work/plan.txt"; exit 1; } >&2
echo "plan: $(python3 -c "print(round($t1-$t0,1))") s; $(grep -m1 'Microsoft Graph' "$work/plan.txt" | sed 's/^ *- //')"
w0=$(labcount writes)

t2=$(now)
"$rb" apply "$work/p.plan" --progress-interval 60s >"$work/apply.txt" 2>&1 &
apply=$!
killed=no
for _ in $(seq "$kill_after"); do
	kill -0 $apply 2>/dev/null || break
	sleep 1
done
if kill -0 $apply 2>/dev/null; then
	kill -9 $apply
	killed=yes
fi
wait $apply || true
t3=$(now)
wk=$(labcount writes)
echo "apply: $(python3 -c "print(round($t3-$t2,1))") s, killed: $killed, $((wk - w0)) writes before the kill"
tail -3 "$work/apply.txt"

run=$("$rb" runs --json | python3 -c 'import json,sys; r=json.load(sys.stdin); r=r if isinstance(r,list) else r.get("runs",[]); print(r[-1].get("id") or r[-1].get("ID"))')
resume_first=""
if [ $killed = yes ]; then
	t4=$(now)
	"$rb" resume "$run" --progress-interval 60s >"$work/resume.txt" 2>&1 &
	res=$!
	# The point: how long after resume starts the lab sees its next write.
	while kill -0 $res 2>/dev/null; do
		if [ "$(labcount writes)" != "$wk" ]; then
			resume_first=$(python3 -c "print(round($(now)-$t4,2))")
			break
		fi
		sleep 0.05
	done
	wait $res
	t5=$(now)
	echo "resume: $(python3 -c "print(round($t5-$t4,1))") s, its first write $resume_first s after it started"
	tail -3 "$work/resume.txt"
else
	t4=$t3 t5=$t3
fi
writes=$(( $(labcount writes) - w0 ))
throttled=$(labcount throttled)
secs=$(python3 -c "print(($t3-$t2)+($t5-$t4))")
share=$(python3 -c "print(round(100*$writes/($secs*3000/150),1))")
echo "writes: $writes for $n instances; answered 429: $throttled; $share% of the write quota over $(python3 -c "print(round($secs))") s of apply and resume"
"$rb" runs show "$run" | head -20 >"$work/runs-show.txt" || true
"$rb" plan cli/testdata/paced-100k/main.hcl -var "prefix=$prefix" -out "$work/again.plan" >"$work/again.txt"
echo "a new plan: $(grep -m1 '^Plan:' "$work/again.txt")"
ok=yes
grep -q "^Plan: 0 to create, 0 to update, 0 to delete, 0 to run, $n already so" "$work/again.txt" || { echo "FAIL: the new plan is not $n already so"; ok=no; }
[ "$writes" = "$n" ] || { echo "FAIL: $writes writes for $n instances"; ok=no; }
[ "$throttled" = 0 ] || { echo "FAIL: the lab answered $throttled requests 429"; ok=no; }
python3 -c "import sys; sys.exit(0 if $share >= 90 else 1)" || { echo "FAIL: $share% of the write quota, under 90%"; ok=no; }
[ $ok = yes ]
