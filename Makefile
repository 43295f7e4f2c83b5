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

.PHONY: all build init install deps fixture test demo bench fuzz clean

all: build

deps:
	./scripts/install-deps

# The shim (one per container, started for each) is the static one: without the dynamic
# loader it starts 0.3 ms sooner, and it keeps no libc.so pages resident (0.3 MiB).
# berth-init goes beside berthd too, where berthd looks for it (then on PATH).
build: init
	$(CARGO) build --profile $(PROFILE) --bins
	install -m 0755 target/$(TARGET_TRIPLE)/$(PROFILE)/berth-shim $(BIN)/berth-shim
	install -m 0755 $(INIT) $(BIN)/berth-init

# Installs the binaries together (berthd finds berth-shim, berth-runc and berth-init beside
# itself), as Docker's packages put dockerd and its helpers in one directory.
# The systemd units (berthd.service, started by berthd.socket as Docker's, and
# berth-registry.service) go where systemd looks for local units, naming the installed binaries;
# the registry's default settings go to /etc/berth-registry unless some are there.
PREFIX ?= /usr/local
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMDDIR)
	for b in berthd berth berth-shim berth-runc berth-init; do install -m 0755 $(BIN)/$$b $(DESTDIR)$(PREFIX)/bin/$$b; done
	for u in berthd.service berthd.socket berth-registry.service; do \
		sed 's|@BINDIR@|$(PREFIX)/bin|' contrib/systemd/$$u > $(DESTDIR)$(SYSTEMDDIR)/$$u && chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/$$u; done
	test -e $(DESTDIR)/etc/berth-registry/config.yml || install -D -m 0644 contrib/registry/config.yml $(DESTDIR)/etc/berth-registry/config.yml

# berth-init (and the test probe) run inside containers, and the shim: linked statically (glibc
# static, position-independent; none of them looks up users through NSS).
init:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --profile $(PROFILE) -p berth-init -p berth-probe -p berth-shim-bin --target $(TARGET_TRIPLE)

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
	./bench/images.sh
	./bench/daemon.sh
	./bench/cli.sh
	./bench/network.sh
	./bench/registry.sh
	./bench/build.sh
	./bench/compose.sh

# Fuzz the layer extractor, the reference parser, the registry server's parsers, the Dockerfile parser, the .dockerignore matcher and compose's .env reader, YAML tree and interpolation (nightly + cargo-fuzz; FUZZ_SECONDS each).
# New inputs the fuzzer finds land in fuzz/corpus/; the archive tests replay that corpus.
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in apply reference registry dockerfile dockerignore compose; do \
		$(CARGO) +nightly fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536 || exit 1; done

clean:
	$(CARGO) clean
