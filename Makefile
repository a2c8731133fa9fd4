# corral's build. One Makefile for the library, the command, the tests, the
# benchmarks and the fuzzers; each subsystem adds its sources in mk/*.mk so
# that parallel work on different subsystems never edits the same lines.
#
#   make                 release build in build/release
#   make SAN=1           AddressSanitizer + UndefinedBehaviorSanitizer build in build/san
#   make WERROR=1        warnings are errors (CI)
#   make test            build and run every test; ends with "N passed, N failed"
#   make bench           build the benchmarks
#   make fuzz            libFuzzer targets (clang) in build/fuzz
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
QJS_DIR := third_party/quickjs
QJS_VERSION := 2025-04-26

ifdef FUZZ
  VARIANT := fuzz
  CC := clang
  SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
  FULL_TEARDOWN := 1
else ifdef SAN
  VARIANT := san
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  FULL_TEARDOWN := 1
else
  VARIANT := release
  SANFLAGS :=
endif

# BUILD_DIR lets several builds (or several people) share one checkout.
BUILD_DIR ?= build/$(VARIANT)
B := $(BUILD_DIR)
CC ?= cc
OPT ?= -O2
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-cast-function-type
ifdef WERROR
  WARN += -Werror
endif
PKG_CFLAGS := $(shell pkg-config --cflags jansson libcurl libseccomp yaml-0.1 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs jansson libcurl libseccomp yaml-0.1 2>/dev/null)

CFLAGS_COMMON := -std=gnu11 -g $(OPT) -fPIC $(SANFLAGS) -D_GNU_SOURCE
CFLAGS_OURS := $(CFLAGS_COMMON) $(WARN) -Iinclude -Ilib -I$(QJS_DIR) -I$(B)/gen $(PKG_CFLAGS)
# A sandbox normally ends by freeing its heap whole; sanitizer and fuzzing
# builds also take the runtime apart object by object first, so that
# QuickJS's own check that no object is still referenced catches a
# reference corral forgot to free (lib/engine/sandbox.c, sandbox_free).
ifdef FULL_TEARDOWN
  CFLAGS_OURS += -DCORRAL_FULL_TEARDOWN
endif
# QuickJS is someone else's code: compiled with our optimisation and sanitizer
# flags so sanitizer builds cover it, but not with our warning set.
CFLAGS_QJS := $(CFLAGS_COMMON) -w -DCONFIG_VERSION=\"$(QJS_VERSION)\"
# QuickJS's bytecode reader shifts a byte into the sign bit (quickjs.c
# bc_read_u32 path), which UBSan reports; that one check is off for its code.
ifneq ($(SANFLAGS),)
  CFLAGS_QJS += -fno-sanitize=shift-base
endif
LDFLAGS += $(SANFLAGS)
# Every symbol bound at startup: full RELRO (the GOT read-only from then
# on), and a worker forked from the zygote finds every binding made
# instead of resolving (and copying the GOT's pages) on its first calls.
LDFLAGS += -Wl,-z,relro,-z,now
LIBS := $(PKG_LIBS) -lm -lpthread -ldl

# Subsystem fragments append to these.
LIB_SRCS :=
JS_BUNDLES :=
TEST_SRCS :=
BENCH_SRCS :=
FUZZ_SRCS :=
CLI_SRCS :=
# mk/*.mk may add rules of their own; the default goal stays `all`.
.DEFAULT_GOAL := all
include $(sort $(wildcard mk/*.mk))

QJS_SRCS := quickjs.c dtoa.c libregexp.c libunicode.c cutils.c
QJS_OBJS := $(addprefix $(B)/qjs/,$(QJS_SRCS:.c=.o))
LIB_OBJS := $(addprefix $(B)/,$(LIB_SRCS:.c=.o))
JS_OBJS := $(patsubst %,$(B)/gen/js/%.o,$(JS_BUNDLES))
CLI_OBJS := $(addprefix $(B)/,$(CLI_SRCS:.c=.o))
TEST_BINS := $(patsubst %.c,$(B)/%,$(TEST_SRCS))
BENCH_BINS := $(patsubst %.c,$(B)/%,$(BENCH_SRCS))
FUZZ_BINS := $(patsubst %.c,$(B)/%,$(FUZZ_SRCS))

STATIC_LIB := $(B)/libcorral.a
SHARED_LIB := $(B)/libcorral.so
CORRAL := $(B)/corral
QJSC := build/host/qjsc

.PHONY: all lib test bench fuzz install clean deps
all: $(STATIC_LIB) $(SHARED_LIB) $(CORRAL) $(B)/corral.pc
lib: $(STATIC_LIB)

deps: $(QJS_DIR)/.prepared-1
$(QJS_DIR)/.prepared-1:
	./scripts/fetch-quickjs.sh

$(QJS_DIR)/quickjs.c: $(QJS_DIR)/.prepared-1

$(B)/qjs/%.o: $(QJS_DIR)/%.c | $(QJS_DIR)/.prepared-1
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_QJS) -c $< -o $@

# The bytecode compiler runs at build time only, so it is always a plain
# release build whatever the variant.
build/host/qjsc: | $(QJS_DIR)/.prepared-1
	@mkdir -p build/host
	gcc -O2 -w -D_GNU_SOURCE -DCONFIG_VERSION=\"$(QJS_VERSION)\" -o $@ \
	  $(QJS_DIR)/qjsc.c $(QJS_DIR)/quickjs.c $(QJS_DIR)/dtoa.c $(QJS_DIR)/libregexp.c \
	  $(QJS_DIR)/libunicode.c $(QJS_DIR)/cutils.c $(QJS_DIR)/quickjs-libc.c -lm -lpthread -ldl

# Each bundle becomes a C array corral_js_NAME of QuickJS bytecode; the
# runtime never reads JavaScript from disk. Each web part is a bundle of its
# own (web_PART), so a sandbox can read one without the others.
$(B)/gen/js/web_%.js: js/web/%.js
	@mkdir -p $(dir $@)
	cp $< $@
$(B)/gen/js/runtime.js: js/runtime.js
	@mkdir -p $(dir $@)
	cp $< $@
$(B)/gen/js/%.c: $(B)/gen/js/%.js $(QJSC)
	$(QJSC) -c -s -N corral_js_$* -o $@ $<

$(B)/gen/js/%.o: $(B)/gen/js/%.c
	$(CC) $(CFLAGS_QJS) -c $< -o $@

$(B)/%.o: %.c | $(QJS_DIR)/.prepared-1
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -MMD -MP -c $< -o $@

$(STATIC_LIB): $(LIB_OBJS) $(JS_OBJS) $(QJS_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS) $(JS_OBJS) $(QJS_OBJS)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libcorral.so.0 -o $@ $^ $(LIBS)

$(CORRAL): $(CLI_OBJS) $(STATIC_LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(STATIC_LIB) $(LIBS)

$(B)/corral.pc: corral.pc.in
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBS@|$(PKG_LIBS) -lm -lpthread -ldl|g' $< > $@

$(B)/tests/%: tests/%.c $(STATIC_LIB) tests/check.h $(wildcard tests/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -Itests -o $@ $< $(STATIC_LIB) $(LDFLAGS) $(LIBS)

$(B)/bench/%: bench/%.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -o $@ $< $(STATIC_LIB) $(LDFLAGS) $(LIBS)

$(B)/fuzz/%: fuzz/%.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -fsanitize=fuzzer -o $@ $< $(STATIC_LIB) $(LDFLAGS) $(LIBS)

tests: $(TEST_BINS) $(CORRAL)
test: tests
	./tests/run.sh $(B)

bench: $(BENCH_BINS) $(CORRAL)
fuzz: $(FUZZ_BINS)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/corral.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(PREFIX)/lib/libcorral.so.0
	ln -sf libcorral.so.0 $(DESTDIR)$(PREFIX)/lib/libcorral.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBS@|$(PKG_LIBS) -lm -lpthread -ldl|g' corral.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/corral.pc
	install -m 755 $(CORRAL) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
