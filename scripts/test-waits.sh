#!/usr/bin/env bash
# Counts the fixed real-time waits written into the test suite: how long the tests sit still when they pass.
#
#   scripts/test-waits.sh            the working tree
#   scripts/test-waits.sh f1ee85e    any commit (read with `git show`, nothing checked out)
#   scripts/test-waits.sh -v …       also list every counted line
#
# Method: a static scan of tests/**/*.rs and src/**/*tests*.rs (unit-test files), line by line, comments
# stripped. Counted, once per place in the source (a wait inside a loop counts once, so the sum is a lower
# bound of what one run waits):
#   silence   `try_recv(D)`: a test that expects nothing waits all of D (one that expects a packet less)
#   window    `closes_within(_, D)`, `read_all(_, D)`: reads that end when D passes
#   sleep     `sleep(D)` with D > 20 ms (shorter ones are the steps of deadline loops, not fixed waits)
#   timer     a setting or local the test waits to expire: `x = D`, `x: D` or `let x = Instant::now() + D`
#             whose name says timeout/window/max_age/delay/interval/drop_every/quiet/stuck (a local
#             counts once, wherever it is used); response windows passed to `command_outcome(_, D)`;
#             CONNECT timeouts
#             passed to `broker_with(_, D)` or `idle_connections(_, D)`; MQTT keepalives of 1..10 s in
#             `connect_packet(…, N)` (the broker closes after 1.5 × N s)
#   validity  command validities of 1..10 s that a test waits out: `timeout=N` in an HTTP query,
#             `send_command(…, N)`
# Settings that match but that no test waits for are listed in NOT_WAITED below, each with its reason.
# Not counted: failure bounds (WAIT, UI_WAIT, `deadline`, `until` and `timeout(D, …)` guards, which a
# passing test never reaches), assertions, durations used as data (model clocks, `+`/`-` arithmetic
# elsewhere), and anything in a test function that runs on paused tokio time (`start_paused` or
# `time::pause()` in its body, or a call to a helper that pauses) or in the router's unit tests
# (src/broker/router/, where time is the `now` passed in): those durations are virtual, listed apart.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import re, subprocess, sys

args = sys.argv[1:]
verbose = "-v" in args
args = [a for a in args if a != "-v"]
rev = args[0] if args else None

def files():
    if rev:
        out = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "tests", "src"],
                             capture_output=True, text=True, check=True).stdout.split()
    else:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                              "tests", "src"], capture_output=True, text=True, check=True).stdout.split()
    for p in sorted(set(out)):
        if not p.endswith(".rs"):
            continue
        if p.startswith("tests/") or re.search(r"tests?\.rs$", p):
            yield p

def read(p):
    if rev:
        return subprocess.run(["git", "show", f"{rev}:{p}"], capture_output=True, text=True,
                              check=True).stdout
    return open(p, encoding="utf-8").read()

DUR = r"(?:std::time::)?Duration::from_(secs|millis)\((\d+)\)"
def secs(unit, n):
    return int(n) if unit == "secs" else int(n) / 1000

# (file, text on the line, why it is not a wait)
NOT_WAITED = [
    ("tests/config_file.rs", "command_response_window", "a value saved to the file; no broker runs"),
    ("tests/reliab_hostile.rs", "broker_with(dir.path(), Duration::from_secs(10))",
     "the default CONNECT timeout; these tests send their bytes at once and never reach it"),
    ("tests/reliab_hostile.rs", "closes_within(&mut s, Duration::from_secs(2))",
     "a failure bound: each claim is closed at once"),
    ("tests/dataplane_diagnostics.rs", "try_recv(std::time::Duration::from_secs(2))",
     "a failure bound: the PUBACK is expected at once"),
]

TIMER_NAME = re.compile(r"(timeout|window|max_age|delay|interval|drop_every|quiet|stuck)", re.I)

# Helpers that wait in paused time themselves: a call to one is virtual time too. (file, call)
PAUSED_HELPERS = [("tests/reliab_hostile.rs", "idle_connections(")]
rows = []  # (kind, seconds, virtual, where, text)

for path in files():
    text = read(path)
    lines = text.splitlines()
    # Function blocks: from one `fn` line to the next; a block is paused when its body pauses time or
    # the attribute lines just above it start it paused.
    starts = [i for i, l in enumerate(lines) if re.match(r"\s*(pub(\(\w+\))? )?(async )?fn \w+", l)]
    paused_at = {}
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(lines)
        body = "\n".join(lines[s:e])
        attrs = "\n".join(lines[max(0, s - 3):s])
        paused = "time::pause()" in body or "start_paused" in attrs
        for i in range(s, e):
            paused_at[i] = paused
    for i, raw in enumerate(lines):
        line = raw.split("//")[0]
        if not line.strip():
            continue
        if re.search(r"\bassert|\bWAIT\b|UI_WAIT|deadline|\buntil\b|timeout\(" + DUR, line):
            continue
        found = []
        for m in re.finditer(r"try_recv\(" + DUR, line):
            found.append(("silence", secs(m[1], m[2])))
        for m in re.finditer(r"(closes_within|read_all)\([^,]+,\s*" + DUR, line):
            found.append(("window", secs(m[2], m[3])))
        for m in re.finditer(r"sleep\(" + DUR, line):
            d = secs(m[1], m[2])
            if d > 0.020:
                found.append(("sleep", d))
        m = re.search(r"([\w.]+)\s*[:=]\s*(?:[\w:]+::now\(\)\s*\+\s*)?" + DUR, line)
        if m and TIMER_NAME.search(m[1].split(".")[-1]) and not re.search(r"[-+]\s*" + DUR, line.replace(m[0], "")):
            found.append(("timer", secs(m[2], m[3])))
        if any(path == f and t in raw for f, t, _ in NOT_WAITED):
            continue
        for m in re.finditer(r"(?:broker_with|idle_connections|command_outcome)\(.+,\s*" + DUR, line):
            found.append(("timer", secs(m[1], m[2])))
        for m in re.finditer(r"connect_packet\((.*),\s*(\d+)\)", line):
            n = int(m[2])
            if 1 <= n <= 10:
                found.append(("keepalive", 1.5 * n))
        for m in re.finditer(r'"[^"]*timeout=(\d+)[^"]*"', line):
            if 1 <= int(m[1]) <= 10:
                found.append(("validity", int(m[1])))
        for m in re.finditer(r"send_command\(.*,\s*(\d+)\)", line):
            if 1 <= int(m[1]) <= 10:
                found.append(("validity", int(m[1])))
        for kind, d in found:
            paused = (
                paused_at.get(i, False)
                or path.startswith("src/broker/router/")
                or ("time::pause()" in text
                    and any(path == f and c in raw for f, c in PAUSED_HELPERS))
            )
            rows.append((kind, d, paused, f"{path}:{i + 1}", raw.strip()))

real = [r for r in rows if not r[2]]
virt = [r for r in rows if r[2]]
label = rev or "working tree"
print(f"fixed test waits in {label}")
for kind in ["silence", "window", "sleep", "timer", "keepalive", "validity"]:
    rs = [r for r in real if r[0] == kind]
    print(f"  {kind:<10} {len(rs):>3} places  {sum(r[1] for r in rs):7.2f} s")
print(f"  {'total':<10} {len(real):>3} places  {sum(r[1] for r in real):7.2f} s real")
print(f"  paused     {len(virt):>3} places  {sum(r[1] for r in virt):7.2f} s of virtual time (not waited)")
if verbose:
    for kind, d, v, where, text in sorted(rows, key=lambda r: (r[2], -r[1])):
        print(f"{'virtual' if v else 'real':<8}{kind:<10}{d:7.3f} s  {where}  {text}")
PY
