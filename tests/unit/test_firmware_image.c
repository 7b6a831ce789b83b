/* Unit tests of lib/firmware_image.c: versions, digests against known vectors, and the ESP8266
 * core's signature format: a key made here signs an image as signing.py does (payload, signature,
 * its length little-endian); a flipped byte, another key, a wrong length field and a bare image
 * are each refused with their own verdict. */
#include "testlib.h"

#include <openssl/pem.h>

#include "firmware_image.h"
#include "validate.h"

static void versions_follow_the_rule(void **state)
{
    (void)state;
    assert_true(valid_firmware_version("1.2.3-rc1+b7_x", 14));
    assert_true(valid_firmware_version("v", 1));
    assert_false(valid_firmware_version("", 0));
    assert_false(valid_firmware_version("1.0 beta", 8));
    assert_false(valid_firmware_version("1/2", 3));
    assert_false(valid_firmware_version("123456789012345678901234567890123", 33));
    assert_true(valid_firmware_version("12345678901234567890123456789012", 32));
}

/* md5sum / sha256sum of "abc". */
static void digests_are_lower_case_hex(void **state)
{
    (void)state;
    struct firmware_digests d;
    assert_true(firmware_digest("abc", 3, &d));
    assert_string_equal(d.md5, "900150983cd24fb0d6963f7d28e17f72");
    assert_string_equal(d.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    assert_non_null(key);
    return key;
}

/* payload || RSA-PKCS1-SHA256(payload) || le32(256), into out (len + 260 bytes). */
static size_t sign_image(EVP_PKEY *key, const uint8_t *payload, size_t len, uint8_t *out)
{
    size_t sig_len = 256;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    memcpy(out, payload, len);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, out + len, &sig_len, payload, len), 1);
    assert_int_equal(sig_len, 256);
    EVP_MD_CTX_free(ctx);
    uint8_t field[4] = {0x00, 0x01, 0x00, 0x00};
    memcpy(out + len + 256, field, 4);
    return len + 260;
}

static void esp8266_signatures_are_checked(void **state)
{
    (void)state;
    EVP_PKEY *key = new_key(), *other = new_key();
    uint8_t payload[1000], image[1260];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    payload[0] = 0xE9;
    size_t len = sign_image(key, payload, sizeof payload, image);
    assert_int_equal(firmware_signature_check(key, image, len), FIRMWARE_SIGNATURE_OK);
    assert_int_equal(firmware_signature_check(other, image, len), FIRMWARE_SIGNATURE_MISMATCH);
    image[10] ^= 1;
    assert_int_equal(firmware_signature_check(key, image, len), FIRMWARE_SIGNATURE_MISMATCH);
    image[10] ^= 1;
    image[len - 4] = 0x80; /* 384: another key size */
    assert_int_equal(firmware_signature_check(key, image, len), FIRMWARE_SIGNATURE_LENGTH);
    assert_int_equal(firmware_signature_check(key, payload, 200), FIRMWARE_SIGNATURE_MISSING);
    assert_string_not_equal(firmware_signature_strerror(FIRMWARE_SIGNATURE_LENGTH),
                            firmware_signature_strerror(FIRMWARE_SIGNATURE_MISMATCH));
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

/* A PEM public key of 2048 bits loads; a missing file and a key of another size do not. */
static void public_keys_load_from_pem(void **state)
{
    (void)state;
    char path[] = "/tmp/provd-pubkey-XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    EVP_PKEY *key = new_key();
    assert_int_equal(PEM_write_PUBKEY(f, key), 1);
    fclose(f);
    EVP_PKEY *loaded = firmware_pubkey_load(path, err, sizeof err);
    assert_non_null(loaded);
    assert_int_equal(EVP_PKEY_eq(key, loaded), 1);
    EVP_PKEY_free(loaded);

    EVP_PKEY *small = EVP_RSA_gen(1024);
    f = fopen(path, "w");
    assert_int_equal(PEM_write_PUBKEY(f, small), 1);
    fclose(f);
    assert_null(firmware_pubkey_load(path, err, sizeof err));
    assert_non_null(strstr(err, "2048"));
    unlink(path);
    assert_null(firmware_pubkey_load(path, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    EVP_PKEY_free(small);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions_follow_the_rule),
        cmocka_unit_test(digests_are_lower_case_hex),
        cmocka_unit_test(esp8266_signatures_are_checked),
        cmocka_unit_test(public_keys_load_from_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
