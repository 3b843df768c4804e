# towel: build, install, demo and test. Run as root on Debian 12.
#
#   make            build ./towel
#   make memfd-bind build contrib/cmd/memfd-bind (see docs/dmz.md)
#   make demo       install build deps if missing, build, run a busybox container
#   make test       install test deps if missing, then unittest and integration
#   make install    PREFIX=/usr/local; RUNC_LINK=1 adds a runc symlink
#
# Variables: GO, PREFIX, BINDIR, MANDIR, DESTDIR, BUILDTAGS, EXTRA_LDFLAGS,
# TESTFLAGS (go test), TESTS (bats files, default all), BENCH_N.

SHELL := /bin/bash

# The Go that go.mod needs lives in /usr/local/go, which a fresh root
# shell may not have in PATH.
ifeq ($(shell command -v go),)
export PATH := $(PATH):/usr/local/go/bin
endif

GO ?= go
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
BUILDTAGS ?=
EXTRA_LDFLAGS ?=
TESTFLAGS ?=
TESTS ?=
BENCH_N ?= 50

VERSION := $(shell cat VERSION)
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null)$(shell \
	git diff --quiet HEAD 2>/dev/null || echo -dirty)

LDFLAGS := -X main.version=$(VERSION) -X main.gitCommit=$(COMMIT) $(EXTRA_LDFLAGS)
GO_BUILD := CGO_ENABLED=1 $(GO) build -trimpath \
	$(if $(BUILDTAGS),-tags "$(BUILDTAGS)") -ldflags "$(LDFLAGS)"

MAN_SRC := $(wildcard man/*.md)
MAN_OUT := $(patsubst man/%.md,man/man8/%,$(MAN_SRC))

.DEFAULT_GOAL := towel

# The dmz stub (libcontainer/dmz/_stub.c) is a static program without libc,
# embedded into towel; the runc_nodmz build tag leaves it out, as does a
# GOARCH the stub has no system calls for.
DMZ_STUB := libcontainer/dmz/stubbin/towel-dmz
DMZ_CFLAGS := -static -nostdlib -nostartfiles -ffreestanding -fno-pie -no-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-ident -Os -s \
	-Wall -Wextra -Wl,--build-id=none -Wl,-z,norelro -Wl,-z,noexecstack \
	-Wl,-z,noseparate-code
ifeq ($(filter runc_nodmz,$(BUILDTAGS)),)
ifneq ($(filter amd64 arm64,$(shell $(GO) env GOARCH)),)
DMZ_DEP := $(DMZ_STUB)
endif
endif

.PHONY: towel
towel: $(DMZ_DEP)
	$(GO_BUILD) -o towel .

$(DMZ_STUB): libcontainer/dmz/_stub.c
	$(CC) $(DMZ_CFLAGS) -o $@ $<

.PHONY: memfd-bind
memfd-bind:
	$(GO_BUILD) -o contrib/cmd/memfd-bind/memfd-bind ./contrib/cmd/memfd-bind

.PHONY: install-memfd-bind
install-memfd-bind: memfd-bind
	install -D -m 0755 contrib/cmd/memfd-bind/memfd-bind \
		$(DESTDIR)$(BINDIR)/memfd-bind
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|/usr/local/sbin/|$(BINDIR)/|g' \
		contrib/cmd/memfd-bind/memfd-bind@.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/memfd-bind@.service

.PHONY: all
all: towel man

.PHONY: install
install: towel
	install -D -m 0755 towel $(DESTDIR)$(BINDIR)/towel
ifeq ($(RUNC_LINK),1)
	ln -sfn towel $(DESTDIR)$(BINDIR)/runc
endif

.PHONY: install-man
install-man: man
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MAN_OUT) $(DESTDIR)$(MANDIR)/man8/

.PHONY: uninstall
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/towel
	if [ "$$(readlink $(DESTDIR)$(BINDIR)/runc)" = towel ]; then \
		rm -f $(DESTDIR)$(BINDIR)/runc; fi

.PHONY: deps-build deps-test
deps-build:
	script/deps.sh build
deps-test:
	script/deps.sh test
	script/install-criu.sh
	$(GO) mod download

.PHONY: demo
demo: deps-build
	$(MAKE) towel
	script/demo.sh

.PHONY: test
test: deps-test
	$(MAKE) towel
	$(MAKE) unittest
	$(MAKE) integration

.PHONY: unittest
unittest: $(DMZ_DEP)
	@[ "$$(id -u)" = 0 ] || { echo "unittest: run as root" >&2; exit 1; }
	$(GO) test -count=1 $(TESTFLAGS) ./...

.PHONY: integration
integration: towel
	script/integration.sh $(TESTS)

.PHONY: bench
bench: towel
	bench/lifecycle.sh $(BENCH_N)

.PHONY: man
man:
	@command -v go-md2man >/dev/null || script/deps.sh build
	$(MAKE) $(MAN_OUT)

man/man8/%: man/%.md
	@mkdir -p man/man8
	go-md2man -in $< -out $@

.PHONY: lint
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
		[ -z "$$out" ] || { echo "gofmt needed: $$out" >&2; exit 1; }
	$(GO) vet ./...
	bash -n script/*.sh bench/*.sh .ci/run

.PHONY: clean
clean:
	rm -f towel $(DMZ_STUB) contrib/cmd/memfd-bind/memfd-bind
	rm -rf man/man8
