# kbackup — see README.md. `make demo` and `make test` install what they need.
GO      ?= go
BIN     := bin/kbackup
PKGS    := ./...
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export GOFLAGS := -buildvcs=false

.PHONY: all build test soak bench lint demo deps emulators clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/kbackup

# deps installs the tools the tests use when they are missing: kcat (the
# independent Kafka client), fuse3 (fusermount3) and jq.
deps:
	@missing=""; \
	for p in kcat:kcat fusermount3:fuse3 jq:jq; do \
	  command -v $${p%%:*} >/dev/null 2>&1 || missing="$$missing $${p#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

demo: build
	./$(BIN) demo --dir demo-backup

# test runs everything: unit tests with the race detector, real mounts, the
# built binary against kfake checked by kcat, and the S3 (gofakes3), GCS
# (fake-gcs-server) and Azure (Azurite) emulators on 127.0.0.1. Missing
# emulators fail the run instead of being skipped.
test: deps emulators
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	KBACKUP_REQUIRE_EMULATORS=1 $(GO) test -race -count=1 -timeout 12m $(PKGS)

# soak runs the fault suite at length: 100 kills per kill test, 100 stale
# lease takeovers raced by 8 contenders on every backend, 10s storage
# latency. Run it before resolving a reliability issue.
soak: deps emulators
	KBACKUP_SOAK=1 KBACKUP_REQUIRE_EMULATORS=1 $(GO) test -count=1 -timeout 150m -run 'Fault|Kill|Freeze|Race|Lease|Soak' ./...

emulators:
	integration/setup-emulators.sh

# bench prints throughput beside peers measured in the same run: backup vs
# kcat -C, restore vs kcat -P and franz-go, the mount vs direct decoding,
# and backup to each storage emulator vs the file backend.
bench: deps emulators build
	KBACKUP_REQUIRE_EMULATORS=1 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./...

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest $(PKGS)

clean:
	rm -rf bin demo-backup
