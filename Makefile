# Bazar: build, run and test. The stack itself is driven by nginx/bazarctl.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# swift may live outside the default PATH (e.g. /opt/swift/usr/bin).
export PATH := $(PATH):/opt/swift/usr/bin

BAZARCTL := nginx/bazarctl

.PHONY: all deps build up down status test bench clean

all: build

# Install only what is missing (commands and headers), quietly skip otherwise.
deps:
	@missing=""; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	command -v spawn-fcgi >/dev/null 2>&1 || missing="$$missing spawn-fcgi"; \
	command -v cgi-fcgi >/dev/null 2>&1 || missing="$$missing libfcgi-bin"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	[ -f /usr/include/fcgiapp.h ] || missing="$$missing libfcgi-dev"; \
	[ -f /usr/include/sqlite3.h ] || missing="$$missing libsqlite3-dev"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
		else echo "make deps: missing:$$missing (run as root or install sudo)" >&2; exit 1; fi; \
		echo "make deps: installing$$missing"; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

build:
	swift build -c release

up: deps build
	@$(BAZARCTL) up

down:
	@$(BAZARCTL) down

status:
	@$(BAZARCTL) status

# Plain "swift test" (not --parallel): the integration tests start whole
# stacks and must not overlap. They point BAZAR_BIN at .build/debug themselves.
test: deps
	swift build
	swift test

bench: deps
	bash bench/run

clean:
	@if [ -d var/run ]; then BAZAR_VAR="$(CURDIR)/var" $(BAZARCTL) down || true; fi
	rm -rf .build var
