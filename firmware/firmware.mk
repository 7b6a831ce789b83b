# firmware/firmware.mk: the portable device core (firmware/core), its cmocka tests over a scripted
# platform, the fuzzers of what it reads (JSON, update offers and records), a strict C99 check of
# the core, its cross-compile for the ESP8266 with checks of the object, and the POSIX host with
# devsim, the fleet simulator (firmware/posix) (included by the Makefile).

FW_CORE_SRC := $(wildcard firmware/core/*.c)
FW_CORE_HDR := $(wildcard firmware/core/*.h)
FW_CORE_OBJ := $(FW_CORE_SRC:%.c=$(BUILD)/obj/%.o)
FW_SCRIPT_OBJ := $(BUILD)/obj/firmware/tests/fw_script.o
FW_TESTS := $(patsubst firmware/tests/%.c,$(BUILD)/tests/%,$(wildcard firmware/tests/test_fw_*.c))
# The POSIX host: everything in firmware/posix but devsim's main; its tests are test_posix_*.c.
FW_POSIX_SRC := $(filter-out firmware/posix/devsim.c,$(wildcard firmware/posix/*.c))
FW_POSIX_OBJ := $(FW_POSIX_SRC:%.c=$(BUILD)/obj/%.o)
FW_OPENSSL_OBJ := $(BUILD)/obj/firmware/posix/fw_openssl.o
FW_POSIX_TESTS := $(patsubst firmware/tests/%.c,$(BUILD)/tests/%,$(wildcard firmware/tests/test_posix_*.c))
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
# The core is built as gnu11 with the rest; this proves it is also plain C99 (what the device
# toolchains are promised).
FW_C99_OK := $(BUILD)/firmware/c99.ok

UNIT_TESTS += $(FW_TESTS) $(FW_POSIX_TESTS)
FW_FUZZERS := $(patsubst firmware/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard firmware/fuzz/fuzz_*.c))
FUZZERS += $(FW_FUZZERS)
EXTRA_PROGRAMS += $(BUILD)/devsim

.PHONY: fw-c99
fw-c99: $(FW_C99_OK)

# Tests, the fuzzer and the POSIX host include the core's headers by name.
$(BUILD)/obj/firmware/fuzz/%.o: ALL_CFLAGS += -Ifirmware/core
$(BUILD)/obj/firmware/tests/%.o $(BUILD)/obj/firmware/posix/%.o: ALL_CFLAGS += -Ifirmware/core -Ifirmware/posix $(CURL_CFLAGS)

$(FW_C99_OK): $(FW_CORE_SRC) $(FW_CORE_HDR)
	@mkdir -p $(@D)
	$(CC) -std=c99 -pedantic $(WARN) -fsyntax-only $(FW_CORE_SRC)
	@touch $@

$(FW_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/firmware/tests/%.o $(FW_SCRIPT_OBJ) $(FW_OPENSSL_OBJ) $(FW_CORE_OBJ) | $(FW_C99_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka -lcrypto

$(FW_POSIX_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/firmware/tests/%.o $(FW_POSIX_OBJ) $(FW_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka $(CURL_LIBS) -lcrypto

$(BUILD)/devsim: $(BUILD)/obj/firmware/posix/devsim.o $(FW_POSIX_OBJ) $(FW_CORE_OBJ) | $(FW_C99_OK)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(CURL_LIBS) -lcrypto

$(FW_FUZZERS): $(BUILD)/fuzz/%: $(BUILD)/obj/firmware/fuzz/%.o $(FW_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -fsanitize=fuzzer -o $@ $^

# `make esp8266` (run by `make test`): the core and the port's SDK-free app_logic.c built for the
# device with Debian's gcc-xtensa-lx106 and picolibc-xtensa-lx106-elf (no vendor SDK needed), with
# the host's warnings as errors and a bound on every function's stack frame (the device task has
# 8 KiB), linked into one relocatable object that firmware/esp8266/check-object.sh checks against
# the target's C library, libgcc and ROM. fw_esp8266.c and main/app_main.c need ESP8266_RTOS_SDK
# headers: only the vendor SDK build compiles them (firmware/esp8266/README.md). app_logic.c also
# runs on the host in test_esp_app_logic, against the core and its scripted platform.
ESP_CC := xtensa-lx106-elf-gcc
ESP_SPECS := --specs=/usr/lib/xtensa-lx106-elf/picolibc.specs
ESP_CFLAGS := $(ESP_SPECS) -std=c99 -pedantic $(WARN) -Wstack-usage=512 \
              -Os -mlongcalls -ffunction-sections -fdata-sections
ESP_SRC := $(FW_CORE_SRC) firmware/esp8266/app_logic.c
ESP_OBJ := $(patsubst firmware/%.c,$(BUILD)/esp8266/obj/%.o,$(ESP_SRC))
ESP_FW := $(BUILD)/esp8266/provd-fw.o
# One of each fault the check must refuse (proof that it can fail).
ESP_FAULTS := $(BUILD)/esp8266/obj/tests/esp_check_faults.o
ESP_CHECK = firmware/esp8266/check-object.sh xtensa-lx106-elf- $(1) \
            "$$($(ESP_CC) $(ESP_SPECS) -print-file-name=libc.a)" "$$($(ESP_CC) -print-libgcc-file-name)"
ESP_APP_TEST := $(BUILD)/tests/test_esp_app_logic

UNIT_TESTS += $(ESP_APP_TEST)

.PHONY: esp8266
esp8266: $(ESP_FW).checked

$(ESP_OBJ) $(ESP_FAULTS): $(BUILD)/esp8266/obj/%.o: firmware/%.c $(FW_CORE_HDR) firmware/esp8266/app_logic.h
	@mkdir -p $(@D)
	$(ESP_CC) $(ESP_CFLAGS) -Ifirmware/core -c $< -o $@

$(ESP_FW): $(ESP_OBJ)
	xtensa-lx106-elf-ld -r -o $@ $^

# The check's report (sizes, symbols, formats) is kept beside the object.
$(ESP_FW).checked: $(ESP_FW) $(ESP_FAULTS) firmware/esp8266/check-object.sh
	! $(call ESP_CHECK,$(ESP_FAULTS)) >/dev/null 2>$@.faults
	@for f in getaddrinfo 'outside fw_' 'writable static' %lld %f; do \
	    grep -qF -- "$$f" $@.faults || { echo "check-object.sh missed $$f in $(ESP_FAULTS)"; exit 1; }; done
	$(call ESP_CHECK,$<) >$@.tmp
	@mv $@.tmp $@ && cat $@

$(BUILD)/obj/firmware/esp8266/%.o: ALL_CFLAGS += -Ifirmware/core
$(BUILD)/obj/firmware/tests/test_esp_app_logic.o: ALL_CFLAGS += -Ifirmware/esp8266

$(ESP_APP_TEST): $(BUILD)/obj/firmware/tests/test_esp_app_logic.o $(BUILD)/obj/firmware/esp8266/app_logic.o \
                 $(FW_SCRIPT_OBJ) $(FW_OPENSSL_OBJ) $(FW_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ -lcmocka -lcrypto
