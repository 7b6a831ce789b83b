/* Base64 codec for E2EE envelopes. Written by hand because OpenSSL's decoders are lenient:
 * EVP_DecodeBlock skips surrounding whitespace and returns padding as zero bytes, EVP_DecodeUpdate
 * accepts line breaks and non-canonical last characters; a strict server must refuse all of those. */
#include "base64.h"

#include <errno.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value 0..63 of one character, or -1. Each range test is a sign-bit mask, not a branch:
 * ((lo - 1 - c) & (c - hi - 1)) is negative exactly when lo <= c <= hi (as in libsodium). */
static int b64_value(unsigned char ch)
{
    int c = ch;
    int v = -1;

    v += (((64 - c) & (c - 91)) >> 8) & (c - 64);  /* 'A'..'Z' -> 0..25 */
    v += (((96 - c) & (c - 123)) >> 8) & (c - 70); /* 'a'..'z' -> 26..51 */
    v += (((47 - c) & (c - 58)) >> 8) & (c + 5);   /* '0'..'9' -> 52..61 */
    v += (((42 - c) & (c - 44)) >> 8) & 63;        /* '+' -> 62 */
    v += (((46 - c) & (c - 48)) >> 8) & 64;        /* '/' -> 63 */
    return v;
}

size_t b64_decoded_max(size_t len)
{
    return len / 4 * 3 + (len % 4 > 1 ? len % 4 - 1 : 0);
}

int b64_decode(const char *in, size_t len, unsigned flags, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t pad = 0, data, i, o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    int bad = 0;

    while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
        pad++;
    data = len - pad;
    if (data % 4 == 1)
        return -EINVAL;
    if (flags & B64_PAD_OPTIONAL) {
        /* "xxxx" takes no '=', "xxx" at most one, "xx" at most two */
        if (pad > (4 - data % 4) % 4)
            return -EINVAL;
    } else if (len % 4 != 0) {
        return -EINVAL;
    }
    if (b64_decoded_max(data) > cap)
        return -ENOBUFS;

    for (i = 0; i < data; i++) {
        int v = b64_value((unsigned char)in[i]);

        bad |= v;
        acc = acc << 6 | (uint32_t)(v & 63);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* the bits below the last whole byte must be zero, or two texts would decode alike */
    if (bad < 0 || (acc & ((1u << bits) - 1)) != 0)
        return -EINVAL;
    *out_len = o;
    return 0;
}

size_t b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t g = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        *out++ = alphabet[g >> 18];
        *out++ = alphabet[g >> 12 & 63];
        *out++ = alphabet[g >> 6 & 63];
        *out++ = alphabet[g & 63];
    }
    if (i < n) {
        uint32_t g = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

        *out++ = alphabet[g >> 18];
        *out++ = alphabet[g >> 12 & 63];
        *out++ = i + 1 < n ? alphabet[g >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}
