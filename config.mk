# spfpolicy version
VERSION = 0.1

# Customize below to fit your system

# paths
PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

# c-ares, static: built by "make deps" (Alpine: CARES_PREFIX = /usr).
# CARES empty: Debian's source package (1.18.1) in deps/cares; CARES=1.34:
# ../shared/vendor/c-ares-1.34.*.tar.gz, what Alpine links, in
# deps/cares1.34 ("make deps CARES=1.34", then "make CARES=1.34")
CARES =
CARES_PREFIX = deps/cares$(CARES)

# flags
CPPFLAGS = -DVERSION=\"$(VERSION)\" -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-I$(CARES_PREFIX)/include
CFLAGS = -std=c99 -pedantic -Wall -Wextra -Wshadow -Os -fstack-protector-strong \
	-ffunction-sections -fdata-sections
LDFLAGS = -Wl,--gc-sections -static -s
LDLIBS = -L$(CARES_PREFIX)/lib -lcares

# compiler and linker (Alpine: CC = cc)
CC = musl-gcc
