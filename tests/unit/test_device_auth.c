/* Unit tests of lib/device_auth.c: the proof header's parser edge by edge, proofs against vectors
 * computed independently (Python's hmac and hashlib), every part of a call bound, freshness, and
 * sealed configurations bound to their device and cfgsn. */
#include "testlib.h"

#include "device_auth.h"
#include "e2ee.h"
#include "validate.h"

#define SECRET "000102030405060708090a0b0c0d0e0f"
#define T      1764000000
#define REGISTER_BODY "{\"ipaddr\":\"10.0.0.7\",\"ssid\":\"lab\"}"
/* hmac.new(hmac.new(bytes.fromhex(SECRET), b"provd device auth 1", sha256).digest(),
 * b"provd-auth-1\nPOST\n/api/devices/AA:BB:CC:DD:EE:FF\n" + sha256(REGISTER_BODY).hexdigest()
 * + b"\n1764000000", sha256) */
#define REGISTER_MAC "3605c09e66ebaafd30c31b8b3795a7b2020ab1762b79614af5e8cd00a564fa7c"
/* the same for GET /api/devices/dev1?cfgsn=3 with an empty body */
#define POLL_MAC "37f0f2be2e95211534f448fc5c2ddbcf9f0e6cc1ba58be085c7191486e946703"
/* and with the passphrase "a long passphrase " x 6 (108 bytes: longer than a block, hashed) */
#define LONG_PASSPHRASE_POLL_MAC "0af933befa8f64b78fab927582328c38413f57dd7a99bff84d4da8b41b826ff5"
/* and with the passphrase "correct horse": its text is the HMAC key */
#define PASSPHRASE_POLL_MAC "9284679343a90977548ab2b3798b8e9653ea4e7b786ae5336bf199c005a7fe01"

static const struct device_call registration = {"POST", "/api/devices/AA:BB:CC:DD:EE:FF", "", REGISTER_BODY,
                                                sizeof REGISTER_BODY - 1};
static const struct device_call poll_call = {"GET", "/api/devices/dev1", "cfgsn=3", NULL, 0};

static bool parses(const char *text, struct device_proof *p)
{
    return device_proof_parse(text, strlen(text), p);
}

static void proofs_match_independent_vectors(void **state)
{
    (void)state;
    struct device_proof p;
    char header[DEVICE_AUTH_PROOF_MAX + 1];
    assert_true(device_proof_sign(SECRET, &registration, T, &p));
    device_proof_format(&p, header);
    assert_string_equal(header, "1:1764000000:" REGISTER_MAC);
    assert_true(device_proof_sign(SECRET, &poll_call, T, &p));
    device_proof_format(&p, header);
    assert_string_equal(header, "1:1764000000:" POLL_MAC);
    /* A hex secret stands for its key's bytes, in either case. */
    assert_true(device_proof_sign("000102030405060708090A0B0C0D0E0F", &poll_call, T, &p));
    device_proof_format(&p, header);
    assert_string_equal(header, "1:1764000000:" POLL_MAC);
    assert_true(device_proof_sign("correct horse", &poll_call, T, &p));
    device_proof_format(&p, header);
    assert_string_equal(header, "1:1764000000:" PASSPHRASE_POLL_MAC);
    assert_true(device_proof_sign("a long passphrase a long passphrase a long passphrase a long passphrase "
                                  "a long passphrase a long passphrase ",
                                  &poll_call, T, &p));
    device_proof_format(&p, header);
    assert_string_equal(header, "1:1764000000:" LONG_PASSPHRASE_POLL_MAC);
}

static void header_parser_takes_exactly_one_form(void **state)
{
    (void)state;
    struct device_proof p;
    assert_true(parses("1:1764000000:" REGISTER_MAC, &p));
    assert_int_equal(p.t, T);
    assert_int_equal(p.mac[0], 0x36);
    assert_int_equal(p.mac[31], 0x7c);
    assert_true(parses("1:0:" REGISTER_MAC, &p));
    assert_int_equal(p.t, 0);
    assert_true(parses("1:999999999999:" REGISTER_MAC, &p));
    const char *bad[] = {
        "",
        "1",
        "1:",
        "2:1764000000:" REGISTER_MAC,            /* another version */
        "1::" REGISTER_MAC,                      /* no t */
        "1:01764000000:" REGISTER_MAC,           /* a leading zero */
        "1:-1764000000:" REGISTER_MAC,           /* a sign */
        "1:1000000000000:" REGISTER_MAC,         /* 13 digits */
        "1:17640x0000:" REGISTER_MAC,            /* not a digit */
        "1:1764000000:" POLL_MAC "0",            /* 65 hex digits */
        "1:1764000000:3605c09e",                 /* truncated */
        "1:1764000000",                          /* no MAC */
        "1:1764000000:3605C09E66EBAAFD30C31B8B3795A7B2020AB1762B79614AF5E8CD00A564FA7C", /* upper case */
        "1:1764000000:g605c09e66ebaafd30c31b8b3795a7b2020ab1762b79614af5e8cd00a564fa7c",
        " 1:1764000000:" REGISTER_MAC,
        "1:1764000000:" REGISTER_MAC " ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(parses(bad[i], &p));
    /* The length given is what is read: a NUL inside, or text past it, is no part of the proof. */
    const char with_nul[] = "1:1764000000:" REGISTER_MAC;
    assert_false(device_proof_parse(with_nul, sizeof with_nul - 2, &p));
    assert_false(device_proof_parse(NULL, 0, &p));
}

static void every_part_of_the_call_is_bound(void **state)
{
    (void)state;
    struct device_proof p;
    assert_true(device_proof_sign(SECRET, &registration, T, &p));
    assert_int_equal(device_proof_check(SECRET, &registration, &p, T), DEVICE_PROOF_OK);
    assert_int_equal(device_proof_check(SECRET, &registration, &p, T + DEVICE_AUTH_WINDOW_S), DEVICE_PROOF_OK);
    assert_int_equal(device_proof_check(SECRET, &registration, &p, T - DEVICE_AUTH_WINDOW_S), DEVICE_PROOF_OK);

    struct device_call other = registration;
    other.method = "PUT";
    assert_int_equal(device_proof_check(SECRET, &other, &p, T), DEVICE_PROOF_FORGED);
    other = registration;
    other.path = "/api/devices/AA:BB:CC:DD:EE:FE"; /* another device */
    assert_int_equal(device_proof_check(SECRET, &other, &p, T), DEVICE_PROOF_FORGED);
    other = registration;
    other.query = "cfgsn=1";
    assert_int_equal(device_proof_check(SECRET, &other, &p, T), DEVICE_PROOF_FORGED);
    other = registration;
    other.body_len--; /* a truncated body */
    assert_int_equal(device_proof_check(SECRET, &other, &p, T), DEVICE_PROOF_FORGED);
    assert_int_equal(device_proof_check("000102030405060708090a0b0c0d0e0e", &registration, &p, T),
                     DEVICE_PROOF_FORGED);
    struct device_proof moved = p;
    moved.t = T + 1; /* the time is signed too */
    assert_int_equal(device_proof_check(SECRET, &registration, &moved, T), DEVICE_PROOF_FORGED);
    for (int bit = 0; bit < 8 * DEVICE_AUTH_MAC_LEN; bit += 37) {
        struct device_proof flipped = p;
        flipped.mac[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        assert_int_equal(device_proof_check(SECRET, &registration, &flipped, T), DEVICE_PROOF_FORGED);
    }
    /* Authentic but out of the window: stale, either way. */
    assert_int_equal(device_proof_check(SECRET, &registration, &p, T + DEVICE_AUTH_WINDOW_S + 1),
                     DEVICE_PROOF_STALE);
    assert_int_equal(device_proof_check(SECRET, &registration, &p, T - DEVICE_AUTH_WINDOW_S - 1),
                     DEVICE_PROOF_STALE);
}

static void sealed_configuration_opens_for_its_device_and_cfgsn_only(void **state)
{
    (void)state;
    const char config[] = "{\"cfgsn\":7,\"data\":{\"wifi\":\"secret\"},\"poll_interval\":60,\"epoch\":0}";
    char *sealed = NULL, *plain = NULL;
    size_t len = 0;
    assert_true(device_config_seal(SECRET, "dev1", 7, NULL, config, sizeof config - 1, &sealed));
    assert_null(strstr(sealed, "secret"));
    assert_true(device_config_open(SECRET, "dev1", 7, sealed, strlen(sealed), &plain, &len));
    assert_int_equal(len, sizeof config - 1);
    assert_string_equal(plain, config);
    free(plain);
    assert_false(device_config_open(SECRET, "dev1", 6, sealed, strlen(sealed), &plain, &len));
    assert_false(device_config_open(SECRET, "dev2", 7, sealed, strlen(sealed), &plain, &len));
    assert_false(device_config_open("000102030405060708090a0b0c0d0e0e", "dev1", 7, sealed, strlen(sealed),
                                    &plain, &len));
    /* Not the telemetry key: a sealed configuration is no telemetry message of the device. */
    struct e2ee_msg *msg = NULL;
    assert_int_not_equal(e2ee_decrypt("dev1/config/7", SECRET, sealed, strlen(sealed), &msg), E2EE_OK);
    assert_null(plain);
    free(sealed);
}

/* The config key is HMAC-SHA256(key, "provd config seal 1") cut to 16 bytes (Python:
 * 2b51e318cf88030b75d24660f498e89b): what the device's own AES-GCM opens. */
static void sealed_configuration_uses_the_derived_key(void **state)
{
    (void)state;
    static const uint8_t nonce[E2EE_NONCE_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    char *sealed = NULL;
    struct e2ee_msg *msg = NULL;
    assert_true(device_config_seal(SECRET, "dev1", 3, nonce, "{}", 2, &sealed));
    assert_int_equal(e2ee_decrypt("dev1/config/3", "2b51e318cf88030b75d24660f498e89b", sealed, strlen(sealed), &msg),
                     E2EE_OK);
    assert_string_equal(e2ee_msg_text(msg), "{}");
    e2ee_msg_free(msg);
    free(sealed);
}

static void v2_associated_data_names_the_epoch(void **state)
{
    (void)state;
    char aad[E2EE_MAX_AAD + 1], id[DEVICE_ID_MAX + 1];
    assert_true(e2ee_v2_aad("dev1", 0, aad));
    assert_string_equal(aad, "dev1");
    assert_true(e2ee_v2_aad("dev1", 12, aad));
    assert_string_equal(aad, "dev1#12");
    memset(id, 'x', DEVICE_ID_MAX);
    id[DEVICE_ID_MAX] = '\0';
    assert_true(e2ee_v2_aad(id, INT64_MAX, aad));
}

/* The update client's password: HMAC-SHA256(key, "provd ota basic 1") cut to 16 bytes, in hex
 * (Python's hmac), for a hex key and a passphrase; Basic "AA:BB:CC:DD:EE:FF:" + it is accepted,
 * any other user, password or scheme is not. */
static void ota_password_matches_independent_vectors(void **state)
{
    (void)state;
    char password[DEVICE_OTA_PASSWORD_LEN + 1];
    assert_true(device_ota_password(SECRET, password));
    assert_string_equal(password, "6a3ebf9812185eebb80437d69cf84dc5");
    assert_true(device_ota_password("correct horse", password));
    assert_string_equal(password, "7b009380cf75aeea33f5cd5042466a1e");

    static const char basic[] = "Basic QUE6QkI6Q0M6REQ6RUU6RkY6NmEzZWJmOTgxMjE4NWVlYmI4MDQzN2Q2OWNmODRkYzU=";
    assert_true(device_ota_basic_check(SECRET, "AA:BB:CC:DD:EE:FF", basic));
    assert_false(device_ota_basic_check(SECRET, "AA:BB:CC:DD:EE:FE", basic));
    assert_false(device_ota_basic_check("000102030405060708090a0b0c0d0e0e", "AA:BB:CC:DD:EE:FF", basic));
    assert_false(device_ota_basic_check(SECRET, "AA:BB:CC:DD:EE:FF", basic + 1));
    assert_false(device_ota_basic_check(SECRET, "AA:BB:CC:DD:EE:FF", "Bearer x"));
    assert_false(device_ota_basic_check(SECRET, "AA:BB:CC:DD:EE:FF", "Basic !!!!"));
    assert_false(device_ota_basic_check(SECRET, "AA:BB:CC:DD:EE:FF", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proofs_match_independent_vectors),
        cmocka_unit_test(header_parser_takes_exactly_one_form),
        cmocka_unit_test(every_part_of_the_call_is_bound),
        cmocka_unit_test(sealed_configuration_opens_for_its_device_and_cfgsn_only),
        cmocka_unit_test(sealed_configuration_uses_the_derived_key),
        cmocka_unit_test(v2_associated_data_names_the_epoch),
        cmocka_unit_test(ota_password_matches_independent_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
