# mod_idsession -- build, test and run.
#
#   make            build .libs/mod_idsession.so with apxs
#   make demo       run httpd in the foreground on 127.0.0.1:8080
#   make test       unit tests (ASan+UBSan), fuzz corpus replay, the manual
#                   against the code (docs-test), e2e tests,
#                   ThreadSanitizer over the HTTP/2 memo (test-tsan)
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench      per-request cost side by side (callgrind + wrk; h2 + TLS with h2load)
#   make loadtest   60 s of wrk with two graceful restarts
#   make test-valgrind  e2e suite against apache2 -X under memcheck
#   make install / uninstall / deb
#   make html       the manual as HTML, in build/html/

VERSION      := $(shell sed -n 's/^\#define IDSESSION_VERSION "\(.*\)"/\1/p' mod_idsession.h)
APXS         ?= /usr/bin/apxs
APACHE2      ?= /usr/sbin/apache2
PYTHON       ?= /usr/bin/python3
PYTEST_ARGS  ?=
FUZZ_SECONDS ?= 60
DEPS         := scripts/deps.sh

SRC          := mod_idsession.c mod_idsession_status.c mod_idsession_store.c \
                idsession_core.c
HDR          := mod_idsession.h mod_idsession_status.h mod_idsession_store.h \
                idsession_core.h
MODULE       := .libs/mod_idsession.so
TESTMOD      := tests/mod/.libs/mod_idsession_test.so
FLOORMOD     := bench/floor/.libs/mod_ids_floor.so

CFLAGS_WARN  := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
                -Wstrict-prototypes -Wshadow -Wformat=2

.PHONY: all demo test unit fuzz-replay docs-test e2e fuzz bench loadtest \
        test-valgrind test-tsan install uninstall deb html clean deps-build

all: $(MODULE)

deps-build:
	@$(DEPS) build

$(MODULE): $(SRC) $(HDR) | deps-build
	$(APXS) -c -Wc,"$(CFLAGS_WARN)" -Wc,-Werror -o mod_idsession.la $(SRC) -lcrypto -lhiredis

$(TESTMOD): tests/mod/mod_idsession_test.c mod_idsession.h | deps-build
	cd tests/mod && $(APXS) -c -I../.. -Wc,"$(CFLAGS_WARN)" -Wc,-Werror mod_idsession_test.c

$(FLOORMOD): bench/floor/mod_ids_floor.c | deps-build
	cd bench/floor && $(APXS) -c -Wc,"$(CFLAGS_WARN)" -Wc,-Werror mod_ids_floor.c

demo: $(MODULE)
	@$(DEPS) demo
	scripts/demo.sh

test: $(MODULE) $(TESTMOD)
	@$(DEPS) test
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) docs-test
	$(MAKE) e2e
	$(MAKE) test-tsan

unit:
	$(MAKE) -C tests/unit run

fuzz-replay:
	$(MAKE) -C tests/fuzz replay

# docs/mod_idsession.md against ids_cmds[], and its examples under apache2 -t.
docs-test: $(MODULE)
	cd tests/docs && $(PYTHON) -m pytest -p no:cacheprovider -q

e2e: $(MODULE) $(TESTMOD)
	cd tests/e2e && $(PYTHON) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

fuzz:
	@$(DEPS) fuzz
	$(MAKE) -C tests/fuzz fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

bench: $(MODULE) $(FLOORMOD)
	@$(DEPS) bench
	bench/bench.sh

loadtest: $(MODULE)
	@$(DEPS) bench
	bench/loadtest.sh

# ThreadSanitizer over the HTTP/2 connection memo, in a real httpd.
test-tsan:
	$(PYTHON) tests/tsan/run.py

test-valgrind: $(MODULE) $(TESTMOD)
	@$(DEPS) test
	@$(DEPS) valgrind
	cd tests/e2e && IDS_VALGRIND=1 $(PYTHON) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

install: $(MODULE)
	scripts/install.sh install

uninstall:
	scripts/install.sh uninstall

deb:
	@$(DEPS) deb
	scripts/build-deb.sh

html:
	@$(DEPS) html
	$(PYTHON) scripts/build-html.py build/html

clean:
	rm -rf build/html
	rm -rf .libs *.la *.lo *.slo *.o tests/mod/.libs tests/mod/*.la tests/mod/*.lo tests/mod/*.slo tests/mod/*.o
	$(MAKE) -C tests/unit clean
	$(MAKE) -C tests/fuzz clean
