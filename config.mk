# spfpolicy version
VERSION = 0.1

# Customize below to fit your system

# paths
PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

# c-ares, static: built by "make deps" (Alpine: CARES_PREFIX = /usr)
CARES_PREFIX = deps/cares

# flags
CPPFLAGS = -DVERSION=\"$(VERSION)\" -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-I$(CARES_PREFIX)/include
CFLAGS = -std=c99 -pedantic -Wall -Wextra -Os -fstack-protector-strong \
	-ffunction-sections -fdata-sections
LDFLAGS = -Wl,--gc-sections -static -s
LDLIBS = -L$(CARES_PREFIX)/lib -lcares

# compiler and linker (Alpine: CC = cc)
CC = musl-gcc
