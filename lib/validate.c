/* Validation of device ids, addresses, SSIDs, names, locations, tags and states. UTF-8 is
 * checked here by hand because it is one small loop and the checks need the character count too. */
#include "validate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool valid_device_id(const char *id)
{
    size_t len = strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-");
    return len >= 1 && len <= DEVICE_ID_MAX && id[len] == '\0';
}

bool valid_ipaddr(const char *text)
{
    unsigned char addr[16];
    return strlen(text) <= INET6_ADDRSTRLEN &&
           (inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1);
}

bool address_prefix(const char *text, char *out, size_t out_len)
{
    unsigned char addr[16];
    if (strlen(text) > INET6_ADDRSTRLEN)
        return false;
    if (inet_pton(AF_INET, text, addr) == 1)
        return inet_ntop(AF_INET, addr, out, (socklen_t)out_len) != NULL;
    if (inet_pton(AF_INET6, text, addr) != 1)
        return false;
    memset(addr + 8, 0, 8);
    return inet_ntop(AF_INET6, addr, out, (socklen_t)out_len) != NULL;
}

bool valid_ssid(const char *ssid, size_t len)
{
    return len <= SSID_MAX && memchr(ssid, '\0', len) == NULL;
}

/* Counts the characters of well-formed UTF-8 without control characters; -1 otherwise. */
static long utf8_printable_chars(const unsigned char *s, size_t len)
{
    long chars = 0;
    for (size_t i = 0; i < len; chars++) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > len || c < 0x20 || c == 0x7f)
            return -1;
        unsigned long cp = n == 1 ? c : c & (0x7f >> n);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return -1;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned long min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_for_len[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            (cp >= 0x80 && cp < 0xa0))
            return -1;
        i += n;
    }
    return chars;
}

bool valid_name(const char *name, size_t len)
{
    long chars = utf8_printable_chars((const unsigned char *)name, len);
    return chars >= 0 && chars <= NAME_MAX_CHARS;
}

bool valid_location(const char *text, size_t len)
{
    long chars = utf8_printable_chars((const unsigned char *)text, len);
    return chars >= 0 && chars <= LOCATION_MAX_CHARS;
}

bool tag_fold(const char *in, size_t len, char *out)
{
    if (len < 1 || len > TAG_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] - 'A' + 'a') : in[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
        out[i] = c;
    }
    out[len] = '\0';
    return true;
}

bool valid_property_key(const char *key, size_t len)
{
    size_t span = strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    return len >= 1 && len <= PROPERTY_KEY_MAX && span == len;
}

bool valid_text(const char *text, size_t len)
{
    return utf8_printable_chars((const unsigned char *)text, len) >= 0;
}

bool valid_state(const char *state)
{
    return strcmp(state, "pending") == 0 || strcmp(state, "accepted") == 0 || strcmp(state, "rejected") == 0;
}

bool parse_int_range(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (!((*text >= '0' && *text <= '9') || *text == '-'))
        return false;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool valid_firmware_version(const char *version, size_t len)
{
    if (len == 0 || len > FIRMWARE_VERSION_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = version[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '+' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}
