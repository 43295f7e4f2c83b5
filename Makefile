# Build, test, demo and bench entry points. PROFILE must be a profile whose output directory has
# its name (release, release-small); `cargo build` alone gives debug binaries for quick work.
# `make test` and `make demo` do all the set-up a fresh
# machine needs (packages, builds; the tests and the demo write the busybox image themselves).
CARGO ?= cargo
PROFILE ?= release
TARGET_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
BIN := target/$(PROFILE)
INIT := target/$(TARGET_TRIPLE)/$(PROFILE)/berth-init
PROBE := target/$(TARGET_TRIPLE)/$(PROFILE)/berth-probe
FIXTURE := target/fixtures/busybox.tar

.PHONY: all build init deps fixture test demo bench clean

all: build

deps:
	./scripts/install-deps

build: init
	$(CARGO) build --profile $(PROFILE) --bins

# berth-init (and the test probe) run inside containers: linked statically (glibc static; no NSS).
init:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --profile $(PROFILE) -p berth-init -p berth-probe --target $(TARGET_TRIPLE)

fixture:
	mkdir -p target/fixtures
	./scripts/busybox-image $(FIXTURE) > target/fixtures/busybox.id

# The tests themselves build in the dev profile (quick to compile); the binaries they run are
# the release ones, so what is measured (shim memory) is what ships.
test: deps build
	BERTH_BIN_DIR=$(CURDIR)/$(BIN) BERTH_INIT=$(CURDIR)/$(INIT) BERTH_PROBE=$(CURDIR)/$(PROBE) \
		$(CARGO) test --workspace -- --test-threads=2

demo: deps build fixture
	./scripts/demo $(BIN) $(INIT) $(FIXTURE)

bench: deps build
	./bench/runtime.sh $(CURDIR)/$(BIN)

clean:
	$(CARGO) clean
