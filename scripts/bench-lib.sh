# Helpers shared by scripts/bench-peers.sh and scripts/bench-ab.sh (sourced, not run): a free loopback
# port, waiting for a broker to listen, and stopping the broker the caller started (PID) and removing its
# data directory (DIR, when the caller set one).

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
