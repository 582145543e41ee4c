# shellcheck shell=bash
# Stopping the processes a script started in the background. Source it.

# procs_stop GRACE_S PID...: SIGINT to every PID first (so they stop side by side and
# print their counters), then waits up to GRACE_S for each and SIGKILLs what is left.
procs_stop() {
    local grace=$1 p
    shift
    for p in "$@"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "$@"; do
        timeout "$grace" tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    done
}
