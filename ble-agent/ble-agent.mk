# ble-agent: the BLE daemon (build/ble-agent), its pure protocol cores with cmocka tests and
# libFuzzer targets, and the tools of its emulator test (build/ble-test/).

BLE_CORE_SRC := $(addprefix ble-agent/,bt_uuid.c gatt_db.c att.c services.c l2cap.c le_sig.c \
	hci.c adv_data.c hci_host.c telemetry_frame.c)
BLE_CORE_OBJ := $(BLE_CORE_SRC:%.c=$(BUILD)/obj/%.o)
# Daemon modules that touch the system (files, sockets, the spool's SQLite file), still unit-tested.
BLE_SYS_SRC := $(addprefix ble-agent/,adapter.c battery.c btsnoop.c spool.c spool_metrics.c \
	hci_transport.c hci_transport_socket.c)
BLE_SYS_OBJ := $(BLE_SYS_SRC:%.c=$(BUILD)/obj/%.o)
BLE_TEST_UTIL := $(BUILD)/obj/ble-agent/tests/att_pdu.o $(BUILD)/obj/ble-agent/tests/test_dirs.o
# The Telemetry In -> provd bridge, the one module that needs libcurl.
BLE_BRIDGE_OBJ := $(BUILD)/obj/ble-agent/bridge.o
BLE_CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

$(BUILD)/obj/ble-agent/%.o: ALL_CFLAGS += -Ible-agent

EXTRA_PROGRAMS += $(BUILD)/ble-agent $(BUILD)/ble-test/ble-central $(BUILD)/ble-test/afalg_shim.so

$(BUILD)/ble-agent: $(BUILD)/obj/ble-agent/main.o $(BUILD)/obj/ble-agent/hci_transport_userchan.o \
		$(BLE_BRIDGE_OBJ) $(BLE_SYS_OBJ) $(BLE_CORE_OBJ)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(BLE_CURL_LIBS) $(LIBS)

BLE_TESTS := $(patsubst ble-agent/tests/%.c,$(BUILD)/tests/%,$(wildcard ble-agent/tests/test_ble_*.c))
UNIT_TESTS += $(BLE_TESTS)

$(BLE_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/ble-agent/tests/%.o $(BLE_TEST_UTIL) $(BLE_SYS_OBJ) \
		$(BLE_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(BLE_CURL_LIBS) $(LIBS)

$(BUILD)/tests/test_ble_bridge: $(BLE_BRIDGE_OBJ)

# Emulator test tools (tests/integration/ble.test.mjs): a test central speaking HCI, and the
# LD_PRELOAD shim btvirt needs on kernels without AF_ALG. Outside build/tests/ on purpose.
$(BUILD)/ble-test/ble-central: $(BUILD)/obj/ble-agent/tests/ble_central.o $(BLE_SYS_OBJ) $(BLE_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/ble-test/afalg_shim.so: ble-agent/tests/afalg_shim.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -Wall -Wextra -Werror -o $@ $< -ldl

# Seed corpora: ble-agent/fuzz/corpus/<fuzzer name>/
BLE_FUZZERS := $(patsubst ble-agent/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard ble-agent/fuzz/fuzz_*.c))
FUZZERS += $(BLE_FUZZERS)

$(BLE_FUZZERS): $(BUILD)/fuzz/%: $(BUILD)/obj/ble-agent/fuzz/%.o $(BLE_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

.PHONY: ble-agent-tests ble-agent-fuzzers
ble-agent-tests: $(BLE_TESTS)
ble-agent-fuzzers: $(BLE_FUZZERS)
