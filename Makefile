# provd: `make` builds into build/, `make run` serves, `make test` runs every suite.
# Components add their programs and tests through */*.mk fragments (see ble-agent/, firmware/).

BUILD    ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
SANFLAGS ?=
PKGS     := json-c sqlite3 libcrypto
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Werror
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS) -Ilib -Icgi-bin -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) libpq)
LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PREFIX   ?= /usr/local
DESTDIR  ?=

# Shared code (lib/) is one static library linked into every program that needs it, but for the
# PostgreSQL backend: a module of its own (lib/store_backend.h), loaded only by programs opening a
# PostgreSQL database, so that those on SQLite never map libpq and the libraries it brings.
# The backend is lib/store_pg*.c but its loader, store_pg_module.c, which is shared code.
PG_STORE_SRC  := $(filter-out lib/store_pg_module.c,$(wildcard lib/store_pg*.c))
PG_MODULE_SRC := $(PG_STORE_SRC) lib/bulk_id.c
LIB_SRC  := $(filter-out $(PG_STORE_SRC),$(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/schema_sql.o
LIBPROVD := $(BUILD)/libprovd.a
PG_MODULE := $(BUILD)/provd-pg.so
PG_LIBS  := $(shell pkg-config --libs libpq 2>/dev/null)

# The FastCGI application: everything in cgi-bin/ except the two programs' mains.
CGI_MAINS := cgi-bin/main.c cgi-bin/provctl.c cgi-bin/alerts.c
CGI_SRC  := $(filter-out $(CGI_MAINS),$(wildcard cgi-bin/*.c))
CGI_OBJ  := $(CGI_SRC:%.c=$(BUILD)/obj/%.o)
LIBCGI   := $(BUILD)/libprovd-cgi.a

PROGRAMS   := $(BUILD)/provd $(BUILD)/provctl $(BUILD)/provd-alerts $(PG_MODULE)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZERS    := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps run run-cluster test unit-tests fuzzers install clean node-deps bench
# Objects are kept between builds even when only a test or fuzzer used them.
.SECONDARY:
all: $(PROGRAMS)

include $(wildcard */*.mk)

all: $(EXTRA_PROGRAMS)

deps:
	@scripts/deps.sh

node-deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The admin page's plotting library, copied from the npm package pinned in package-lock.json:
# nginx serves it from www/vendor/ (git-ignored) with the page, no build step and no CDN.
WWW_VENDOR := www/vendor/uPlot.esm.js www/vendor/uPlot.min.css
.PHONY: www-vendor
www-vendor: $(WWW_VENDOR)
www/vendor/%: node_modules/.package-lock.json
	@mkdir -p $(@D)
	cp node_modules/uplot/dist/$* $@

# db/schema.sql and db/migrations/*.sql (and db/pg/*.sql) are compiled in, so a binary never looks
# for them at run time.
MIGRATIONS := db/schema.sql $(sort $(wildcard db/migrations/*.sql))
$(BUILD)/gen/schema_sql.c: $(MIGRATIONS) scripts/embed-sql.sh
	@mkdir -p $(@D)
	scripts/embed-sql.sh $(MIGRATIONS) > $@

# The PostgreSQL backend's own series, db/pg/*.sql (lib/store_pg.c).
PG_MIGRATIONS := $(sort $(wildcard db/pg/*.sql))
$(BUILD)/gen/pg_schema_sql.c: $(PG_MIGRATIONS) scripts/embed-sql.sh
	@mkdir -p $(@D)
	scripts/embed-sql.sh -p provd_pg $(PG_MIGRATIONS) > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(BUILD)/pic/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

$(PG_MODULE): $(PG_MODULE_SRC:%.c=$(BUILD)/pic/%.o) $(BUILD)/pic/gen/pg_schema_sql.o
	$(CC) $(CFLAGS) $(SANFLAGS) -shared -o $@ $^ $(PG_LIBS)

$(LIBPROVD): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIBCGI): $(CGI_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/provd: $(BUILD)/obj/cgi-bin/main.o $(LIBCGI) $(LIBPROVD)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lfcgi $(LIBS)

$(BUILD)/provctl: $(BUILD)/obj/cgi-bin/provctl.o $(LIBCGI) $(LIBPROVD)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

# The alert sweeper and sender: the only program that links libcurl (cgi-bin/webhook.c).
$(BUILD)/provd-alerts: $(BUILD)/obj/cgi-bin/alerts.o $(LIBCGI) $(LIBPROVD)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

# The tests make and drop their PostgreSQL databases with libpq themselves (testlib.h).
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBCGI) $(LIBPROVD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(LIBS) $(PG_LIBS)

# test_store_pg checks the schema version against the module's own migrations.
$(BUILD)/tests/test_store_pg: $(BUILD)/obj/gen/pg_schema_sql.o

unit-tests: $(UNIT_TESTS) $(PG_MODULE)

# Fuzz targets: built by `make fuzzers` with clang into build/fuzz-obj (see tests/run.sh).
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIBCGI) $(LIBPROVD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzzers: $(FUZZERS)

# deps runs first, on its own, so that the build that follows sees the libraries it installed.
run:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all www-vendor
	scripts/stack.sh

# Two provd hosts on one throwaway PostgreSQL (scripts/cluster.sh), for trying a cluster locally.
run-cluster:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all www-vendor
	scripts/cluster.sh

test:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all unit-tests node-deps www-vendor
	tests/run.sh

# The benchmark table (bench/README.md): a few minutes, loopback only, stops all it starts.
bench: all bench-tools
	BUILD=$(BUILD) bench/run.sh

install: all www-vendor
	scripts/install.sh "$(DESTDIR)" "$(PREFIX)"

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)
