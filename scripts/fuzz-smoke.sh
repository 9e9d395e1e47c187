#!/usr/bin/env bash
# Short fuzz smoke for CI (about 1 minute): replays the fuzz corpus and every past finding, then runs a
# bounded random mutation campaign over the three decoders (MQTT, $dp, HTTP JSON bodies) through the
# same checks the AFL++ targets use. The long coverage-guided campaign is fuzz/run.sh (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_SMOKE_SECS="${FUZZ_SMOKE_SECS:-15}"
cargo test --test fuzz_smoke -- --include-ignored --nocapture
