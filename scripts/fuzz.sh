#!/usr/bin/env bash
# Fuzzes every target of the project for FUZZTIME each (default 20s).
# `go test -fuzz` with a pattern that matches no target passes without
# fuzzing anything, so each target is first looked up with `go test -list`
# and a missing one fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
targets=(
	.:FuzzServeDNS
	.:FuzzSetup
	.:FuzzProbeLogin
	.:FuzzServeHTTP
	./internal/gwtable:FuzzRegionsFile
	./internal/regionsimport:FuzzImportMarkdown
	./internal/regionsimport:FuzzImportServiceTags
)
for t in "${targets[@]}"; do
	pkg=${t%%:*} name=${t#*:}
	listed=$(go test -list "^${name}\$" "$pkg")
	if ! grep -qx "$name" <<<"$listed"; then
		echo "fuzz.sh: no target $name in $pkg" >&2
		exit 1
	fi
	echo "--- $name ($pkg, $fuzztime)"
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg"
done
