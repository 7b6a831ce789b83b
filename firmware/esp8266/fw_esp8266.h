/* fw_esp8266.h: the firmware platform (fw_platform.h) on ESP8266_RTOS_SDK: HTTP through
 * esp_http_client, AES through the SDK's mbedTLS, esp_random(), the SEQN record in NVS, ESP_LOGx. */
#ifndef FW_ESP8266_H
#define FW_ESP8266_H

#include <stdint.h>

#include "fw_client.h"

/* Longest server base URL, e.g. "http://192.168.1.10:8080" (the core adds the path). */
#define FW_ESP8266_BASE_MAX 128

struct fw_esp8266;

/* Copies base_url (trailing '/' dropped) and opens the NVS namespace of the SEQN record;
 * nvs_flash_init() must have run. Returns NULL on a bad URL, an NVS error or without memory. */
struct fw_esp8266 *fw_esp8266_new(const char *base_url, int timeout_ms);
void fw_esp8266_free(struct fw_esp8266 *port);

/* The platform to hand to fw_new(). Its http_start() blocks for the whole exchange (at most about
 * timeout_ms per stage) and answers with fw_http_done() before returning. */
struct fw_platform fw_esp8266_platform(struct fw_esp8266 *port);

/* The context answers go to: call once fw_new() has returned, before the first fw_step(). */
void fw_esp8266_attach(struct fw_esp8266 *port, struct fw_ctx *ctx);

/* Milliseconds since boot from esp_timer_get_time(): the clock fw_step() runs on. */
uint64_t fw_esp8266_now_ms(void);

#endif
