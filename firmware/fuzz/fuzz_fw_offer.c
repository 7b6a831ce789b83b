/* fuzz_fw_offer.c: libFuzzer target for what the firmware core reads about updates: the poll
 * answer's "firmware" offer (from the server or anyone on the path) and the progress record read
 * back from storage (a torn or foreign one): checks what is accepted stays within its bounds. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fw_update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *record_bytes;
static size_t record_size;

static int record_read(void *user_data, uint8_t *buf, size_t cap)
{
    (void)user_data;
    if (record_size > cap)
        return -1;
    memcpy(buf, record_bytes, record_size);
    return (int)record_size;
}

static void check_offer(const char *doc, size_t size)
{
    char path[FW_IMAGE_PATH_MAX + 1];
    struct fw_image img;

    if (fw_update_parse_offer(doc, size, "http://srv:8080", &img, path, sizeof path) != 0)
        return;
    if (path[0] != '/' || path[1] == '/' || strlen(path) > FW_IMAGE_PATH_MAX || img.size == 0 ||
        img.size > FW_IMAGE_SIZE_MAX || !fw_version_valid(img.version, strlen(img.version)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct fw_update_ops ops = {NULL, NULL, NULL, NULL, NULL, record_read, NULL};
    struct fw_platform plat;
    struct fw_update u;

    check_offer((const char *)data, size);
    memset(&plat, 0, sizeof plat);
    plat.update = &ops;
    record_bytes = data;
    record_size = size;
    fw_update_boot(&u, &plat);
    if (u.offset > u.img.size || u.saved != u.offset || u.offered)
        __builtin_trap();
    return 0;
}
