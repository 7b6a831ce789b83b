# ble-agent: pure protocol cores (GATT database, ATT server, services, L2CAP framing, LE
# signalling/SMP refusals) with their cmocka tests and libFuzzer targets. The daemon comes later.

BLE_CORE_SRC := $(addprefix ble-agent/,bt_uuid.c gatt_db.c att.c services.c l2cap.c le_sig.c)
BLE_CORE_OBJ := $(BLE_CORE_SRC:%.c=$(BUILD)/obj/%.o)
BLE_TEST_UTIL := $(BUILD)/obj/ble-agent/tests/att_pdu.o

$(BUILD)/obj/ble-agent/%.o: ALL_CFLAGS += -Ible-agent

BLE_TESTS := $(patsubst ble-agent/tests/%.c,$(BUILD)/tests/%,$(wildcard ble-agent/tests/test_ble_*.c))
UNIT_TESTS += $(BLE_TESTS)

$(BLE_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/ble-agent/tests/%.o $(BLE_TEST_UTIL) $(BLE_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(LIBS)

# Seed corpora: ble-agent/fuzz/corpus/<fuzzer name>/
BLE_FUZZERS := $(patsubst ble-agent/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard ble-agent/fuzz/fuzz_*.c))
FUZZERS += $(BLE_FUZZERS)

$(BLE_FUZZERS): $(BUILD)/fuzz/%: $(BUILD)/obj/ble-agent/fuzz/%.o $(BLE_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

.PHONY: ble-agent-tests ble-agent-fuzzers
ble-agent-tests: $(BLE_TESTS)
ble-agent-fuzzers: $(BLE_FUZZERS)
