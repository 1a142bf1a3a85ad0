# kbackup — see README.md. `make demo` and `make test` install what they need.
GO      ?= go
BIN     := bin/kbackup
PKGS    := ./...
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export GOFLAGS := -buildvcs=false

.PHONY: all build test soak bench lint demo deps emulators clean fuzz

# FUZZ lists the fuzz targets, one `<package>:<FuzzName>` per line: append a
# line for each new decoder of stored or user-given bytes. `make fuzz` runs
# each for FUZZTIME, one after the other; `make test` for FUZZTIME_SHORT.
FUZZ += ./store:FuzzSegmentReader
FUZZ += ./store:FuzzSegmentRoundTrip
FUZZ += ./store:FuzzDecompress
FUZZ += ./store:FuzzCodecRoundTrip
FUZZ += ./store:FuzzDecodeBlock
FUZZ += ./store:FuzzJSONLine
FUZZ += ./store:FuzzIndexHead
FUZZ += ./store:FuzzIndexPart
FUZZ += ./store:FuzzManifest
FUZZ += ./store:FuzzLeaseEntry
FUZZ += ./store:FuzzSnapshotRequest
FUZZ += ./store:FuzzSealedSegment
FUZZ += ./store:FuzzGroupCapture
FUZZ += ./store/crypt:FuzzParseMarker
FUZZ += ./store/crypt:FuzzOpenObject
FUZZ += ./store/crypt:FuzzSegmentOpen
FUZZ += ./engine/restore:FuzzParseSpec
FUZZ += ./engine/restore:FuzzDecodeOffsetMaps
FUZZ += ./fs/browse:FuzzRestoreName
FUZZ += ./fs/browse:FuzzPath
FUZZ += ./fs:FuzzCopyRequest
FUZZ += ./fs:FuzzSpecWrites

FUZZTIME       ?= 2m
# The short run counts executions instead of timing them: when a -fuzztime
# duration runs out, Go's coordinator can see its deadline before the
# workers' context is cancelled and report "context deadline exceeded" as a
# failure (internal/fuzz stop(); it failed CI once). A count stops the
# workers by cancellation, which it never reports.
FUZZTIME_SHORT ?= 5000x
# Minimizing each new input for up to a minute (Go's default) would leave
# no time to fuzz; 200 attempts keep reproducers short enough.
FUZZMINIMIZE   ?= 200x
FUZZBIN        := bin/fuzz

# fuzz-each runs every target of FUZZ for $(1), one after the other, from
# one instrumented test binary per package (linking one per target would
# cost more than the short run). $(2) is the corpus cache: "go" shares Go's
# own (GOCACHE/fuzz, as `go test -fuzz` uses) so long runs build on earlier
# ones; "fresh" starts from the committed seeds in a temporary directory, so
# the baseline the short run must replay first stays small. A failure stops
# the run and leaves its input under <package>/testdata/fuzz/<FuzzName>/.
define fuzz-each
	@set -e; rm -rf $(FUZZBIN); mkdir -p $(FUZZBIN); \
	cache=$$($(GO) env GOCACHE)/fuzz; \
	if [ "$(2)" = fresh ]; then cache=$$(mktemp -d); trap 'rm -rf "$$cache"' EXIT; fi; \
	for t in $(FUZZ); do \
	  pkg=$${t%%:*}; name=$${t#*:}; dir=$$cache/$$($(GO) list "$$pkg"); \
	  bin=$(CURDIR)/$(FUZZBIN)/$$(echo "$$pkg" | tr -c 'a-zA-Z0-9\n' _).test; \
	  [ -x "$$bin" ] || $(GO) test -c -fuzz=. -o "$$bin" "$$pkg"; \
	  echo "fuzz $$name ($$pkg) for $(1)"; \
	  (cd "$$pkg" && "$$bin" -test.run '^$$' -test.fuzz "^$$name\$$" -test.fuzztime $(1) \
	    -test.fuzzminimizetime $(FUZZMINIMIZE) -test.fuzzcachedir "$$dir"); \
	done
endef

all: build

# build stamps the commit (kbackup version): VCS stamping is off in GOFLAGS.
build:
	$(GO) build -ldflags "-X main.commit=$$(git rev-parse HEAD 2>/dev/null)$$(git diff --quiet HEAD 2>/dev/null || echo -modified)" -o $(BIN) ./cmd/kbackup

# deps installs the tools the tests use when they are missing: kcat (the
# independent Kafka client), fuse3 (fusermount3), jq, the WebDAV clients
# kbackup serve is tested with (rclone, davfs2, cadaver, litmus) and
# headless Chromium for its HTML pages, without the recommended packages
# (those would bring systemd and avahi into the machine).
deps:
	@set -e; missing=""; bare=""; \
	for p in kcat:kcat fusermount3:fuse3 jq:jq rclone:rclone mount.davfs:davfs2 cadaver:cadaver litmus:litmus; do \
	  command -v $${p%%:*} >/dev/null 2>&1 || missing="$$missing $${p#*:}"; \
	done; \
	command -v chromium-headless-shell >/dev/null 2>&1 || bare="chromium-headless-shell"; \
	if [ -n "$$missing$$bare" ]; then \
	  echo "installing$$missing $$bare"; \
	  $(SUDO) apt-get update -qq; \
	  [ -z "$$missing" ] || $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  [ -z "$$bare" ] || $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$bare; \
	fi

demo: build
	./$(BIN) demo --dir demo-backup

# test runs everything: unit tests with the race detector, real mounts, the
# built binary against kfake checked by kcat, and the S3 (gofakes3), GCS
# (fake-gcs-server) and Azure (Azurite) emulators on 127.0.0.1. Missing
# emulators fail the run instead of being skipped. Then every fuzz target
# runs FUZZTIME_SHORT executions (about a minute and a half in all).
test: deps emulators
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	KBACKUP_REQUIRE_EMULATORS=1 $(GO) test -race -count=1 -timeout 12m $(PKGS)
	$(call fuzz-each,$(FUZZTIME_SHORT),fresh)

# fuzz runs every fuzz target for FUZZTIME (default 2m each), e.g.
# `make fuzz FUZZTIME=10m`, or one: `make fuzz FUZZ=./store:FuzzDecompress`.
fuzz:
	$(call fuzz-each,$(FUZZTIME),go)

# soak runs the fault suite at length: 100 kills per kill test, 100 stale
# lease takeovers raced by 8 contenders on every backend, 3s storage latency
# against a 24s lease TTL, a 60s 503 storm, 100 rounds of broker faults.
# Run it before resolving a reliability issue.
soak: deps emulators
	KBACKUP_SOAK=1 KBACKUP_REQUIRE_EMULATORS=1 $(GO) test -count=1 -timeout 150m -run 'Fault|Kill|Freeze|Race|Lease|Soak' ./...

emulators:
	integration/setup-emulators.sh

# bench measures kbackup beside peers in the same run (docs/performance.md):
# backup vs kcat -C and a raw franz-go consumer, restore vs kcat -P and a
# franz-go producer, the mount vs direct decoding, mount and ls at scale,
# backup to each storage emulator vs the file backend, and encrypted vs
# plain backup and restore (BENCH=Encryption). Every contender warms
# up once, then they alternate for at least 5 rounds (integration/benchtab);
# packages run one at a time (-p 1) so that no benchmark shares the machine
# with another. Each figure is appended to $(BENCH_OUT) and the run ends with
# the summary table. BENCH=regexp selects benchmarks; UPDATE_DOCS=1 also
# writes the table into docs/performance.md. About 15-25 minutes on 2 cores.
BENCH     ?= .
BENCH_OUT ?= bin/bench.jsonl
bench: deps emulators build
	@mkdir -p $(dir $(BENCH_OUT)) && rm -f $(BENCH_OUT)
	@status=0; \
	KBACKUP_BENCH_OUT=$(abspath $(BENCH_OUT)) KBACKUP_REQUIRE_EMULATORS=1 \
	  $(GO) test -p 1 -run '^$$' -bench '$(BENCH)' -benchtime 1x -timeout 40m $(PKGS) || status=$$?; \
	$(GO) run ./integration/benchtab/cmd/benchtab -in $(BENCH_OUT) $(if $(UPDATE_DOCS),-doc docs/performance.md) || status=1; \
	exit $$status

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest $(PKGS)

clean:
	rm -rf bin demo-backup
