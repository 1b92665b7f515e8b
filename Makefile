# spfpolicy - SPF policy server for Postfix
# See LICENSE file for copyright and license details.
.POSIX:

include config.mk

SRC = spfpolicy.c
HDR = spfpolicy.h config.h idna.h

all: spfpolicy

spfpolicy: $(SRC) $(HDR) config.mk .cares
	@test -f "$(CARES_PREFIX)/lib/libcares.a" || { \
		p="$(CARES_PREFIX)"; c=$${p#deps/cares}; \
		case $$p in \
		deps/cares*) hint="run 'make deps$${c:+ CARES=$$c}' as root, or set CARES_PREFIX" ;; \
		*) hint="CARES_PREFIX is where a static c-ares is installed" ;; \
		esac; \
		echo "spfpolicy: no static c-ares in $$p: $$hint" >&2; exit 1; }
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

# the c-ares the binary was last built against: another one rebuilds it
.cares: FORCE
	@echo "$(CARES_PREFIX)" | cmp -s - $@ || echo "$(CARES_PREFIX)" > $@

config.h:
	cp config.def.h $@

deps:
	CARES="$(CARES)" CARES_PREFIX="$(CARES_PREFIX)" sh tests/deps.sh

# the test tools: installed when missing (as root on Debian), else the
# tests that need them say skipped
testdeps:
	sh tests/deps.sh test

# the tests build (if need be) and test with the c-ares of the last build
# ("make CARES=1.34", then "make test"), unless CARES or CARES_PREFIX is
# given on the command line
LAST = p="$(CARES_PREFIX)"; case "$(MAKEFLAGS)" in *CARES*) ;; \
	*) [ ! -s .cares ] || p=$$(cat .cares) ;; esac

test: testdeps
	@$(LAST); $(MAKE) CARES_PREFIX="$$p" all
	./test.sh

# make test but the real Postfix (the same requests as side by side,
# through Postfix): CI runs it against the other c-ares too (make
# test-core CARES=1.34)
test-core: testdeps
	@$(LAST); $(MAKE) CARES_PREFIX="$$p" all
	SKIP_TESTS="postfix-e2e postfix-e2e-listener" ./test.sh

FORCE:

# the whole suite under ASan+UBSan and under valgrind (glibc builds)
check-asan: config.h testdeps
	bash tests/asan.sh

check-valgrind: config.h testdeps
	bash tests/valgrind.sh

# libFuzzer targets for every parser; FUZZ_SECONDS each (CI: a short smoke)
FUZZ_SECONDS = 20
fuzz: config.h testdeps
	sh tests/fuzz/run.sh $(FUZZ_SECONDS)

# side by side with pypolicyd-spf and the floors; prints ratios, asserts nothing
bench: all
	bash tests/bench.sh

clean:
	rm -f spfpolicy .cares spfpolicy-$(VERSION).tar.gz

dist:
	rm -rf "spfpolicy-$(VERSION)"
	mkdir -p "spfpolicy-$(VERSION)"
	files=$$(git ls-files 2>/dev/null) && [ -n "$$files" ] || \
		files="LICENSE Makefile README config.mk config.def.h \
		spfpolicy.8 spfpolicy.c spfpolicy.h test.sh .ci tests"; \
	tar -cf - $$files | (cd "spfpolicy-$(VERSION)" && tar -xf -)
	tar -cf - "spfpolicy-$(VERSION)" | gzip -c > "spfpolicy-$(VERSION).tar.gz"
	rm -rf "spfpolicy-$(VERSION)"

install: all
	mkdir -p "$(DESTDIR)$(PREFIX)/sbin"
	cp -f spfpolicy "$(DESTDIR)$(PREFIX)/sbin"
	chmod 755 "$(DESTDIR)$(PREFIX)/sbin/spfpolicy"
	mkdir -p "$(DESTDIR)$(MANPREFIX)/man8"
	cp -f spfpolicy.8 "$(DESTDIR)$(MANPREFIX)/man8/spfpolicy.8"
	chmod 644 "$(DESTDIR)$(MANPREFIX)/man8/spfpolicy.8"

uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/sbin/spfpolicy"
	rm -f "$(DESTDIR)$(MANPREFIX)/man8/spfpolicy.8"

.PHONY: all deps testdeps test test-core check-asan check-valgrind fuzz bench clean dist install uninstall FORCE
