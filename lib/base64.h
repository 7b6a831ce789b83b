/* Base64 (RFC 4648 section 4, standard alphabet): a strict decoder for wire fields and an encoder.
 * Errors are 0 / -errno: -EINVAL for text that is not base64 under the flags, -ENOBUFS for a short buffer. */
#ifndef PROVD_BASE64_H
#define PROVD_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decoder flags. Without B64_PAD_OPTIONAL the text must be a multiple of 4 characters with
 * exactly the padding RFC 4648 prescribes. With it, the trailing '=' may be missing or one
 * short ("Zg=" for "Zg=="), as ESP8266 firmware sends it. Either way: no whitespace, no other
 * alphabet, no '=' inside, and the unused low bits of the last character must be zero. */
enum b64_flags {
    B64_STRICT = 0,
    B64_PAD_OPTIONAL = 1,
};

/* Room b64_decode() needs for len characters: exact for text without '=', else an upper bound. */
size_t b64_decoded_max(size_t len);

/* Decodes in[0..len) into out (capacity cap), storing the byte count in *out_len.
 * out may equal in (decoding in place is safe: output never overtakes input).
 * Runs without branches or table lookups on the characters' values, so decoding decrypted
 * text does not leak it through timing. */
int b64_decode(const char *in, size_t len, unsigned flags, uint8_t *out, size_t cap, size_t *out_len);

/* Characters b64_encode() writes for n bytes, excluding the terminating NUL. */
size_t b64_encoded_len(size_t n);

/* Encodes in[0..n) with padding into out, which must hold b64_encoded_len(n) + 1 bytes (NUL-terminated). */
void b64_encode(const uint8_t *in, size_t n, char *out);

#endif
