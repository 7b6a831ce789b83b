/* app_main.c: the provd device application on ESP8266_RTOS_SDK v3.4: joins WiFi, then runs the
 * firmware core with the MAC as device id, an LED and a telemetry interval set by the server's
 * configuration, and readings of the ADC and the free heap. Compiled by the vendor SDK build only. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/task.h"

#include "driver/adc.h"
#include "driver/gpio.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_system.h"
#include "esp_wifi.h"
#include "lwip/ip4_addr.h"
#include "nvs_flash.h"
#include "sdkconfig.h"
#include "tcpip_adapter.h"

#include "app_logic.h"
#include "fw_client.h"
#include "fw_esp8266.h"

#define CONNECTED_BIT BIT0
/* The loop wakes at least this often; the core's deadlines and readings wake it sooner. */
#define MAX_SLEEP_MS 60000u
/* After a 403 to the registration the core stops; an admin may accept the device later, so it
 * boots again after this long (a boot costs one SEQN reservation, nothing else). */
#define REFUSED_RESTART_MS (3600u * 1000u)
/* Bytes on this port (StackType_t is a byte): the core's buffers live in its heap context, but
 * esp_http_client, lwIP calls and the mbedTLS GCM context (~400 bytes) run on this stack. */
#define DEVICE_TASK_STACK    8192
#define DEVICE_TASK_PRIORITY 5

#ifdef CONFIG_PROVD_ENVELOPE_V1
#define ENVELOPE_VERSION FW_ENVELOPE_V1
#else
#define ENVELOPE_VERSION FW_ENVELOPE_V2
#endif

#ifdef CONFIG_PROVD_LED_ACTIVE_LOW
#define LED_ON_LEVEL 0u
#else
#define LED_ON_LEVEL 1u
#endif

static const char *TAG = "app";

struct device {
    EventGroupHandle_t net_events;
    char ipaddr[16]; /* dotted quad of the last IP_EVENT_STA_GOT_IP */
    char id[APP_DEVICE_ID_LEN];
    struct app_state app; /* what the server's configuration set */
    struct fw_esp8266 *port;
    struct fw_ctx *fw;
};

/* WiFi and IP events, on the SDK's event task: reconnect for ever (requests lost meanwhile are
 * the core's network errors, retried with backoff) and publish the address. */
static void on_net_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    struct device *d = arg;

    if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
        xEventGroupClearBits(d->net_events, CONNECTED_BIT);
        esp_wifi_connect();
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        const ip_event_got_ip_t *got = data;

        ip4addr_ntoa_r(&got->ip_info.ip, d->ipaddr, sizeof d->ipaddr);
        xEventGroupSetBits(d->net_events, CONNECTED_BIT);
    }
}

/* A menuconfig string into a fixed-size WiFi field (an SSID may fill all 32 bytes, unterminated). */
static bool copy_field(uint8_t *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n > cap)
        return false;
    memcpy(dst, src, n);
    return true;
}

static void wifi_start(struct device *d)
{
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    wifi_config_t cfg;

    memset(&cfg, 0, sizeof cfg);
    if (!copy_field(cfg.sta.ssid, sizeof cfg.sta.ssid, CONFIG_PROVD_WIFI_SSID) ||
        !copy_field(cfg.sta.password, sizeof cfg.sta.password, CONFIG_PROVD_WIFI_PASSWORD)) {
        ESP_LOGE(TAG, "PROVD_WIFI_SSID or PROVD_WIFI_PASSWORD is too long");
        abort();
    }
    tcpip_adapter_init();
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_net_event, d));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_net_event, d));
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(ESP_IF_WIFI_STA, &cfg));
    ESP_ERROR_CHECK(esp_wifi_start());
}

static void led_set(bool on)
{
    gpio_set_level((gpio_num_t)CONFIG_PROVD_LED_GPIO, on ? LED_ON_LEVEL : 1u - LED_ON_LEVEL);
}

static void peripherals_start(void)
{
    adc_config_t adc = {ADC_READ_TOUT_MODE, 8};

    ESP_ERROR_CHECK(adc_init(&adc));
    ESP_ERROR_CHECK(gpio_set_direction((gpio_num_t)CONFIG_PROVD_LED_GPIO, GPIO_MODE_OUTPUT));
}

/* The core, once the network is up: the registration reports this address. Every boot starts
 * at applied cfgsn 0, so the first poll brings the current configuration back (LED included). */
static int core_start(struct device *d)
{
    const struct fw_app app = {&d->app, app_apply_config, NULL};
    struct fw_platform plat;
    struct fw_config cfg;
    uint8_t mac[6];

    memset(&cfg, 0, sizeof cfg);
    if (esp_read_mac(mac, ESP_MAC_WIFI_STA) != ESP_OK || app_format_device_id(mac, d->id, sizeof d->id) != 0)
        return -1;
    if (app_parse_key(CONFIG_PROVD_TELEMETRY_KEY, ENVELOPE_VERSION, &cfg.key) != 0) {
        ESP_LOGE(TAG, "PROVD_TELEMETRY_KEY must be 32 hex digits (v1: 32, 48 or 64)");
        return -1;
    }
    cfg.device_id = d->id;
    cfg.ipaddr = d->ipaddr;
    cfg.ssid = CONFIG_PROVD_WIFI_SSID;
    cfg.poll_interval_s = CONFIG_PROVD_POLL_INTERVAL;
    cfg.server = CONFIG_PROVD_SERVER_URL; /* an update offered as an absolute URL must be on it */
#ifdef CONFIG_PROVD_SIGN
    cfg.sign = 1;
#endif
    d->port = fw_esp8266_new(CONFIG_PROVD_SERVER_URL, CONFIG_PROVD_HTTP_TIMEOUT_MS);
    if (!d->port)
        return -1;
    plat = fw_esp8266_platform(d->port);
    d->fw = fw_new(&cfg, &plat, &app);
    if (!d->fw)
        return -1;
    fw_esp8266_attach(d->port, d->fw);
    ESP_LOGI(TAG, "device %s at %s, server %s", d->id, d->ipaddr, CONFIG_PROVD_SERVER_URL);
    return 0;
}

/* One reading of the ADC, the free heap, the uptime and the LED, queued for the core. */
static void submit_reading(struct device *d, uint64_t now)
{
    struct app_sample sample;
    char json[FW_READING_MAX];
    int len;

    if (adc_read(&sample.adc) != ESP_OK) {
        ESP_LOGW(TAG, "adc_read failed; no reading this time");
        return;
    }
    sample.free_heap = esp_get_free_heap_size();
    sample.uptime_s = (uint32_t)(now / 1000u);
    sample.led_on = d->app.settings.led_on;
    len = app_build_reading(&sample, json, sizeof json);
    if (len < 0 || fw_submit_reading(d->fw, json, (size_t)len) != 0)
        ESP_LOGW(TAG, "reading skipped: the last one is still being sent");
}

static void device_task(void *arg)
{
    struct device *d = arg;
    uint64_t next_reading;

    xEventGroupWaitBits(d->net_events, CONNECTED_BIT, pdFALSE, pdTRUE, portMAX_DELAY);
    if (core_start(d) != 0) {
        ESP_LOGE(TAG, "cannot start the client; restarting in 10 s");
        vTaskDelay(pdMS_TO_TICKS(10000));
        esp_restart();
    }
    led_set(d->app.settings.led_on);
    next_reading = fw_esp8266_now_ms() + d->app.settings.telemetry_interval_s * 1000ull;
    for (;;) {
        uint64_t now = fw_esp8266_now_ms();
        uint64_t wake;
        TickType_t ticks;

        if (now >= next_reading) {
            submit_reading(d, now);
            next_reading = now + d->app.settings.telemetry_interval_s * 1000ull;
        }
        wake = fw_step(d->fw, now); /* blocks while a request is on the wire */
        if (d->app.changed) {
            d->app.changed = false;
            led_set(d->app.settings.led_on);
            next_reading = now + d->app.settings.telemetry_interval_s * 1000ull;
        }
        if (fw_get_state(d->fw) == FW_STATE_REFUSED) {
            ESP_LOGE(TAG, "refused by the server; booting again in an hour");
            vTaskDelay(pdMS_TO_TICKS(REFUSED_RESTART_MS));
            esp_restart();
        }
        ticks = pdMS_TO_TICKS(app_sleep_ms(fw_esp8266_now_ms(), wake, next_reading, MAX_SLEEP_MS));
        vTaskDelay(ticks > 0 ? ticks : 1); /* at least a tick, so the idle task feeds the watchdog */
    }
}

/* The SDK's entry point, called once the system is up. */
void app_main(void);

void app_main(void)
{
    struct device *d = calloc(1, sizeof *d);
    esp_err_t err = nvs_flash_init();

    /* A full or foreign NVS partition is erased: the SEQN record goes with it, and the core's
     * skip-ahead on the server's 409s finds a fresh SEQN range again. */
    if (err == ESP_ERR_NVS_NO_FREE_PAGES) {
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    ESP_ERROR_CHECK(err);
    if (!d || !(d->net_events = xEventGroupCreate())) {
        ESP_LOGE(TAG, "out of memory");
        abort();
    }
    d->app.settings.telemetry_interval_s = CONFIG_PROVD_TELEMETRY_INTERVAL;
    peripherals_start();
    /* WiFi first: it also turns the RF on, which esp_random() needs to be truly random. */
    wifi_start(d);
    if (xTaskCreate(device_task, "provd", DEVICE_TASK_STACK, d, DEVICE_TASK_PRIORITY, NULL) != pdPASS) {
        ESP_LOGE(TAG, "cannot create the device task");
        abort();
    }
}
