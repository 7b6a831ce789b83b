# bench/bench.mk: the tools `make bench` (bench/run.sh) needs: the FastCGI ceiling responder, the
# bulk database seeder and the telemetry body sealer (included by the Makefile).

BENCH_TOOLS := $(BUILD)/bench/fcgi_hello $(BUILD)/bench/seed $(BUILD)/bench/seal

.PHONY: bench-tools
bench-tools: $(BENCH_TOOLS)

$(BUILD)/bench/fcgi_hello: $(BUILD)/obj/bench/fcgi_hello.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lfcgi

$(BUILD)/bench/seed $(BUILD)/bench/seal: $(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBPROVD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

# The store's bulk-load functions, which seed relies on, have their own unit test.
UNIT_TESTS += $(BUILD)/tests/test_store_bulk
$(BUILD)/obj/bench/tests/%.o: ALL_CFLAGS += -Itests/unit
$(BUILD)/tests/test_store_bulk: $(BUILD)/obj/bench/tests/test_store_bulk.o $(LIBPROVD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(LIBS) $(PG_LIBS)

# The heartbeat's fast path in the store.
UNIT_TESTS += $(BUILD)/tests/test_heartbeat_path
$(BUILD)/tests/test_heartbeat_path: $(BUILD)/obj/bench/tests/test_heartbeat_path.o $(LIBCGI) $(LIBPROVD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(LIBS) $(PG_LIBS)
