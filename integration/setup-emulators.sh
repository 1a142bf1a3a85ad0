#!/usr/bin/env bash
# Installs the object-storage emulators the store tests run against, into a
# fixed cache directory. Idempotent: an emulator already installed is kept.
#
#   KBACKUP_EMULATOR_CACHE  cache directory (default ~/.cache/kbackup-emulators)
#   FAKE_GCS_VERSION        fake-gcs-server module version (default v1.56.1)
#   AZURITE_VERSION         azurite npm version (default 3.35.0)
#
# The tests look for the emulators there, or where these point:
#   KBACKUP_FAKE_GCS        path of a fake-gcs-server binary
#   KBACKUP_AZURITE         path of an azurite-blob executable
#   KBACKUP_REQUIRE_EMULATORS=1  makes a missing emulator fail the tests
#                                instead of skipping them (CI sets it)
# S3 needs nothing: the tests run gofakes3 in-process.
set -euo pipefail

cache="${KBACKUP_EMULATOR_CACHE:-$HOME/.cache/kbackup-emulators}"
mkdir -p "$cache/bin" "$cache/azurite"

if [[ ! -x "$cache/bin/fake-gcs-server" ]]; then
	echo "setup-emulators: installing fake-gcs-server into $cache/bin" >&2
	GOBIN="$cache/bin" go install "github.com/fsouza/fake-gcs-server@${FAKE_GCS_VERSION:-v1.56.1}"
fi

if [[ ! -x "$cache/azurite/node_modules/.bin/azurite-blob" ]]; then
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "setup-emulators: installing nodejs and npm" >&2
		if [[ $(id -u) -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
	fi
	echo "setup-emulators: installing azurite into $cache/azurite" >&2
	[[ -f "$cache/azurite/package.json" ]] || echo '{"name":"kbackup-emulators","private":true}' >"$cache/azurite/package.json"
	(cd "$cache/azurite" && npm install --no-audit --no-fund --loglevel=error "azurite@${AZURITE_VERSION:-3.35.0}")
fi

echo "setup-emulators: fake-gcs-server=$cache/bin/fake-gcs-server azurite-blob=$cache/azurite/node_modules/.bin/azurite-blob" >&2
