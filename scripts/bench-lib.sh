# Helpers shared by the bench-*.sh scripts (sourced, not run): the broker binaries named on the command
# line, the load generator, a free loopback port, waiting for a broker to listen, and stopping the broker
# the caller started (PID) and removing its data directory (DIR, when the caller set one).

# BINS: the binaries named in "$@" as absolute paths, and LOADGEN made absolute; call before changing
# directory (they are given from the caller's). Exits 2 when none is named.
take_binaries() {
    [ $# -ge 1 ] || {
        echo "usage: $0 BINARY..." >&2
        exit 2
    }
    BINS=()
    for b in "$@"; do BINS+=("$(realpath "$b")"); done
    [ -z "${LOADGEN:-}" ] || LOADGEN=$(realpath "$LOADGEN")
}

# LOADGEN, or the release build of examples/loadgen (built when missing); from the repository's root.
default_loadgen() {
    if [ -z "${LOADGEN:-}" ]; then
        LOADGEN=target/release/examples/loadgen
        [ -x "$LOADGEN" ] || cargo build --release --no-default-features --example loadgen >&2
    fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to 10 s for something to listen on 127.0.0.1:$1.
wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "broker did not listen on $1" >&2
    return 1
}

PID=
DIR=
PORT=

# Starts `$1 serve --profile mqtt` fresh on a free loopback port (sets DIR, PORT and PID); when it does
# not listen, prints its log, stops it and returns 1.
start_serve() {
    DIR=$(mktemp -d)
    PORT=$(free_port)
    "$1" --data-dir "$DIR" serve --profile mqtt --mqtt "127.0.0.1:$PORT" --http 127.0.0.1:0 \
        >"$DIR/serve.log" 2>&1 &
    PID=$!
    if ! wait_port "$PORT" || ! kill -0 "$PID" 2>/dev/null; then
        echo "$(basename "$1"): its log:" >&2
        cat "$DIR/serve.log" >&2
        stop
        return 1
    fi
}

stop() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
    fi
    if [ -n "$DIR" ]; then
        rm -rf "$DIR"
        DIR=
    fi
}
trap stop EXIT
