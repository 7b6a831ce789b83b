/* Unit tests of lib/validate.c (device ids, addresses, SSIDs, names, states, integers) and
 * lib/isotime.c (ISO-8601 UTC to and from Unix seconds), edge by edge. */
#include "testlib.h"

#include <time.h>

#include "isotime.h"
#include "validate.h"

static const char id_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";

static void device_id_lengths(void **state)
{
    (void)state;
    char id[128];
    assert_false(valid_device_id(""));
    assert_true(valid_device_id("a"));
    assert_true(valid_device_id(repeat(id, sizeof id, "x", DEVICE_ID_MAX)));
    assert_false(valid_device_id(repeat(id, sizeof id, "x", DEVICE_ID_MAX + 1)));
    assert_true(valid_device_id("AA:BB:CC:DD:EE:FF"));
    assert_true(valid_device_id("aabbccddeeff"));
    assert_true(valid_device_id("esp-8266_node.7"));
    assert_true(valid_device_id(id_chars + strlen(id_chars) - DEVICE_ID_MAX)); /* every class at once */
    assert_false(valid_device_id(id_chars));                                   /* 66 characters */
}

/* Every byte outside [A-Za-z0-9._:-] makes an id invalid, wherever it stands. */
static void device_id_every_forbidden_byte(void **state)
{
    (void)state;
    for (int c = 1; c < 256; c++) {
        char middle[] = {'a', (char)c, 'b', '\0'};
        char first[] = {(char)c, 'b', '\0'};
        char last[] = {'a', (char)c, '\0'};
        bool allowed = strchr(id_chars, c) != NULL;
        if (valid_device_id(middle) != allowed || valid_device_id(first) != allowed ||
            valid_device_id(last) != allowed)
            fail_msg("byte 0x%02x: expected %s", c, allowed ? "valid" : "invalid");
    }
    assert_false(valid_device_id("caf\xc3\xa9")); /* UTF-8 letters are not ASCII letters */
    assert_false(valid_device_id("a b"));
    assert_false(valid_device_id("../etc"));
    assert_false(valid_device_id("a%2Fb"));
    assert_false(valid_device_id("x'; DROP TABLE devices; --"));
}

static void ipaddr_v4(void **state)
{
    (void)state;
    assert_true(valid_ipaddr("192.168.1.10"));
    assert_true(valid_ipaddr("0.0.0.0"));
    assert_true(valid_ipaddr("255.255.255.255"));
    assert_false(valid_ipaddr("256.1.1.1"));
    assert_false(valid_ipaddr("1.2.3"));
    assert_false(valid_ipaddr("1.2.3.4.5"));
    assert_false(valid_ipaddr("01.2.3.4"));
    assert_false(valid_ipaddr("1.2.3.4/24"));
    assert_false(valid_ipaddr("1.2.3.4:80"));
    assert_false(valid_ipaddr(" 1.2.3.4"));
    assert_false(valid_ipaddr("1.2.3.4 "));
    assert_false(valid_ipaddr("0x7f.0.0.1"));
}

static void ipaddr_v6(void **state)
{
    (void)state;
    assert_true(valid_ipaddr("::"));
    assert_true(valid_ipaddr("::1"));
    assert_true(valid_ipaddr("fe80::1"));
    assert_true(valid_ipaddr("2001:db8::8a2e:370:7334"));
    assert_true(valid_ipaddr("2001:DB8:0:0:0:0:0:1"));
    assert_true(valid_ipaddr("::ffff:192.0.2.1"));
    /* The longest text form there is: 45 characters. */
    assert_true(valid_ipaddr("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"));
    assert_false(valid_ipaddr(":::"));
    assert_false(valid_ipaddr("1::2::3"));
    assert_false(valid_ipaddr("[::1]"));
    assert_false(valid_ipaddr("12345::1"));
    assert_false(valid_ipaddr("1:2:3:4:5:6:7:8:9"));
    assert_false(valid_ipaddr("fe80::g"));
}

/* A zone id (RFC 4007) names an interface of the sender: meaningless to the server, refused. */
static void ipaddr_zone_ids(void **state)
{
    (void)state;
    assert_false(valid_ipaddr("fe80::1%eth0"));
    assert_false(valid_ipaddr("fe80::1%1"));
    assert_false(valid_ipaddr("fe80::1%25eth0"));
}

static void ipaddr_junk(void **state)
{
    (void)state;
    char long_text[1024];
    assert_false(valid_ipaddr(""));
    assert_false(valid_ipaddr("localhost"));
    assert_false(valid_ipaddr("example.com"));
    assert_false(valid_ipaddr("1.2.3.4\n"));
    assert_false(valid_ipaddr("'; DROP TABLE devices; --"));
    assert_false(valid_ipaddr(repeat(long_text, sizeof long_text, "1", 1000)));
    assert_false(valid_ipaddr(repeat(long_text, sizeof long_text, "0:", 300)));
    /* 46 characters: one more than any address. */
    assert_false(valid_ipaddr("0ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"));
}

static void ssid_bytes(void **state)
{
    (void)state;
    char s[64];
    assert_true(valid_ssid("", 0));
    assert_true(valid_ssid("home", 4));
    assert_true(valid_ssid(repeat(s, sizeof s, "w", SSID_MAX), SSID_MAX));
    assert_false(valid_ssid(repeat(s, sizeof s, "w", SSID_MAX + 1), SSID_MAX + 1));
    /* The limit is in bytes: 16 two-byte characters fit, 17 do not. */
    assert_true(valid_ssid(repeat(s, sizeof s, "\xc3\xa9", 16), 32));
    assert_false(valid_ssid(repeat(s, sizeof s, "\xc3\xa9", 17), 34));
    assert_false(valid_ssid("ho\0me", 5));
    assert_false(valid_ssid("home\0", 5));
}

static void name_lengths(void **state)
{
    (void)state;
    char s[512];
    assert_true(valid_name("", 0));
    assert_true(valid_name(repeat(s, sizeof s, "n", NAME_MAX_CHARS), NAME_MAX_CHARS));
    assert_false(valid_name(repeat(s, sizeof s, "n", NAME_MAX_CHARS + 1), NAME_MAX_CHARS + 1));
    /* Characters, not bytes: 64 of two, three and four bytes each are fine, 65 are not. */
    static const char *const wide[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x92\xa1"};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        repeat(s, sizeof s, wide[i], NAME_MAX_CHARS);
        assert_true(valid_name(s, strlen(s)));
        repeat(s, sizeof s, wide[i], NAME_MAX_CHARS + 1);
        assert_false(valid_name(s, strlen(s)));
    }
    assert_true(valid_name("Kitchen lamp \xe2\x80\x94 east", 20));
}

static void name_malformed_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xc0\xaf",                 /* overlong '/' in two bytes */
        "\xc1\xbf",                 /* overlong U+007F */
        "\xe0\x80\xaf",             /* overlong '/' in three bytes */
        "\xe0\x9f\xbf",             /* overlong U+07FF */
        "\xf0\x80\x80\xaf",         /* overlong '/' in four bytes */
        "\xf0\x8f\xbf\xbf",         /* overlong U+FFFF */
        "\xed\xa0\x80",             /* U+D800, a high surrogate */
        "\xed\xbf\xbf",             /* U+DFFF, a low surrogate */
        "\xed\xa0\xbd\xed\xb2\xa1", /* a surrogate pair encoded as CESU-8 */
        "\xf4\x90\x80\x80",         /* U+110000, past Unicode */
        "\xf8\x88\x80\x80\x80",     /* a five-byte form */
        "\x80",                     /* a continuation byte alone */
        "a\xbf",
        "\xe2\x82", /* truncated */
        "\xc3",
        "\xc3\x28", /* lead byte without continuation */
        "\xfe",
        "\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (valid_name(bad[i], strlen(bad[i])))
            fail_msg("bad UTF-8 #%zu accepted", i);
    assert_true(valid_name("\xed\x9f\xbf", 3));     /* U+D7FF, just below the surrogates */
    assert_true(valid_name("\xee\x80\x80", 3));     /* U+E000, just above */
    assert_true(valid_name("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF, the last code point */
    assert_true(valid_name("abc\xff", 3));          /* only len bytes are read */
    assert_false(valid_name("\xc3\xa9", 1));        /* a character cut by len is malformed */
}

static void name_control_characters(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        char s[] = {'a', (char)c, 'b'};
        if (valid_name(s, sizeof s))
            fail_msg("C0 control 0x%02x accepted", c);
    }
    assert_false(valid_name("a\x7f"
                            "b",
                            3));
    for (int c = 0x80; c < 0xa0; c++) {
        char s[] = {'a', (char)(0xc0 | c >> 6), (char)(0x80 | (c & 0x3f)), 'b'};
        if (valid_name(s, sizeof s))
            fail_msg("C1 control U+%04X accepted", c);
    }
    assert_true(valid_name("\xc2\xa0", 2)); /* U+00A0, the first character after C1 */
    assert_false(valid_name("tab\there", 8));
    assert_false(valid_name("new\nline", 8));
}

static void states(void **state)
{
    (void)state;
    assert_true(valid_state("pending"));
    assert_true(valid_state("accepted"));
    assert_true(valid_state("rejected"));
    assert_false(valid_state(""));
    assert_false(valid_state("Pending"));
    assert_false(valid_state("accepted "));
    assert_false(valid_state("accept"));
    assert_false(valid_state("rejectedx"));
    assert_false(valid_state("deleted"));
}

static void int_range_edges(void **state)
{
    (void)state;
    int64_t v = 42;
    assert_true(parse_int_range("0", 0, 10, &v));
    assert_int_equal(v, 0);
    assert_true(parse_int_range("10", 0, 10, &v));
    assert_int_equal(v, 10);
    assert_true(parse_int_range("-5", -5, 5, &v));
    assert_int_equal(v, -5);
    assert_true(parse_int_range("9223372036854775807", 0, INT64_MAX, &v));
    assert_true(v == INT64_MAX);
    assert_true(parse_int_range("-9223372036854775808", INT64_MIN, 0, &v));
    assert_true(v == INT64_MIN);

    static const char *const refused[] = {
        "11",
        "-1",
        "",
        "-",
        "+1",
        " 1",
        "1 ",
        "1a",
        "0x10",
        "1.0",
        "1e3",
        "\t1",
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        v = 42;
        if (parse_int_range(refused[i], 0, 10, &v))
            fail_msg("\"%s\" accepted", refused[i]);
        assert_int_equal(v, 42); /* untouched on failure */
    }
    assert_false(parse_int_range("9223372036854775808", INT64_MIN, INT64_MAX, &v));
    assert_false(parse_int_range("-6", -5, 5, &v));
}

/* isotime_now() read after the precise clock is never on an earlier second, across a whole second
 * boundary (time() was, for up to a tick after one: tens of thousands of reads each time). */
static void isotime_now_is_never_behind_the_precise_clock(void **state)
{
    (void)state;
    struct timespec precise;
    clock_gettime(CLOCK_REALTIME, &precise);
    int64_t last = (int64_t)precise.tv_sec + 2;
    do {
        clock_gettime(CLOCK_REALTIME, &precise);
        int64_t seconds = isotime_now();
        if (seconds < (int64_t)precise.tv_sec)
            fail_msg("isotime_now() %lld after the precise clock's %lld.%09ld", (long long)seconds,
                     (long long)precise.tv_sec, precise.tv_nsec);
    } while ((int64_t)precise.tv_sec < last);
}

static void isotime_round_trip(void **state)
{
    (void)state;
    char text[ISOTIME_LEN + 1];
    int64_t back;
    isotime_format(0, text);
    assert_string_equal(text, "1970-01-01T00:00:00Z");
    isotime_format(TEST_T0, text);
    assert_string_equal(text, "2026-11-22T08:42:10Z");
    static const int64_t instants[] = {
        0, 1, 951782400 /* 2000-02-29 */, TEST_T0, 1835481599 /* 2028-02-29T23:59:59Z */, 4102444799};
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        isotime_format(instants[i], text);
        assert_int_equal(strlen(text), ISOTIME_LEN);
        assert_true(isotime_parse(text, &back));
        assert_int_equal(back, instants[i]);
    }
    assert_true(isotime_parse("2028-02-29T23:59:59Z", &back));
    assert_int_equal(back, 1835481599);
}

static void isotime_refuses_impossible_dates(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2026-02-31T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T12:00:00Z",
        "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-22T24:00:00Z",
        "2026-11-22T23:60:00Z", "2026-11-22T23:59:60Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 42;
        if (isotime_parse(bad[i], &v))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(v, 42);
    }
}

static void isotime_refuses_other_shapes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026-11-22",
        "2026-11-22 08:42:10Z",
        "2026-11-22T08:42:10",
        "2026-11-22T08:42:10z",
        "2026-11-22t08:42:10Z",
        "2026-11-22T08:42:10+00:00",
        "2026-11-22T08:42:10.5Z",
        "2026-11-22T8:42:10Z ",
        " 2026-11-22T08:42:10Z",
        "2026-11-22T08:42:10Z ",
        "2026-1-22T08:42:10ZZ",
        "20261122T084210Z",
        "+2026-11-22T08:42:1Z",
        "2026/11/22T08:42:10Z",
        "1795336930",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 42;
        if (isotime_parse(bad[i], &v))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(v, 42);
    }
}

static void tags_fold_and_charset(void **state)
{
    (void)state;
    char out[TAG_MAX_LEN + 1];
    assert_true(tag_fold("Green-House_2.v", 15, out));
    assert_string_equal(out, "green-house_2.v");
    char longest[TAG_MAX_LEN + 2];
    memset(longest, 'a', sizeof longest);
    assert_true(tag_fold(longest, TAG_MAX_LEN, out));
    assert_false(tag_fold(longest, TAG_MAX_LEN + 1, out));
    assert_false(tag_fold("", 0, out));
    static const char *const bad[] = {"a b", "a,b", "a\"", "caf\xc3\xa9", "a/b", "a:b", "x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tag_fold(bad[i], strlen(bad[i]), out))
            fail_msg("tag \"%s\" accepted", bad[i]);
    assert_false(tag_fold("a\0b", 3, out)); /* an embedded NUL */
}

static void locations_and_property_keys(void **state)
{
    (void)state;
    char text[4 * LOCATION_MAX_CHARS + 2];
    memset(text, 'x', sizeof text);
    assert_true(valid_location(text, LOCATION_MAX_CHARS));
    assert_false(valid_location(text, LOCATION_MAX_CHARS + 1));
    assert_true(valid_location("Gew\xc3\xa4" "chshaus 3, Reihe 2", 23));
    assert_false(valid_location("line\nbreak", 10));
    assert_true(valid_property_key("led_on-2", 8));
    assert_false(valid_property_key("a.b", 3));  /* a path, not a property */
    assert_false(valid_property_key("a\"", 2)); /* would end the JSON path's quotes */
    assert_false(valid_property_key("", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(device_id_lengths),
        cmocka_unit_test(device_id_every_forbidden_byte),
        cmocka_unit_test(ipaddr_v4),
        cmocka_unit_test(ipaddr_v6),
        cmocka_unit_test(ipaddr_zone_ids),
        cmocka_unit_test(ipaddr_junk),
        cmocka_unit_test(ssid_bytes),
        cmocka_unit_test(name_lengths),
        cmocka_unit_test(name_malformed_utf8),
        cmocka_unit_test(name_control_characters),
        cmocka_unit_test(states),
        cmocka_unit_test(tags_fold_and_charset),
        cmocka_unit_test(locations_and_property_keys),
        cmocka_unit_test(int_range_edges),
        cmocka_unit_test(isotime_now_is_never_behind_the_precise_clock),
        cmocka_unit_test(isotime_round_trip),
        cmocka_unit_test(isotime_refuses_impossible_dates),
        cmocka_unit_test(isotime_refuses_other_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
