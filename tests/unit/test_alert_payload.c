/* alert_payload: the exact body a webhook receives for a liveness change (times as ISO-8601, a
 * device never seen as null) and for another kind, whose detail adds members but replaces none. */
#include "alert_payload.h"
#include "testlib.h"

static void liveness_change(void **state)
{
    (void)state;
    struct alert a = {.id = 42, .kind = "offline", .subject = "lamp-1", .at = TEST_T0, .name = "porch \"A\"",
                      .liveness_from = "overdue", .liveness_to = "offline", .lastseen = TEST_T0 - 301};
    char *body = alert_payload_alloc(&a);
    assert_string_equal(body, "{\"id\":\"42\",\"kind\":\"offline\",\"subject\":\"lamp-1\","
                              "\"time\":\"2026-11-22T08:42:10Z\",\"device\":\"lamp-1\",\"name\":\"porch \\\"A\\\"\","
                              "\"from\":\"overdue\",\"to\":\"offline\",\"lastseen\":\"2026-11-22T08:37:09Z\"}");
    free(body);
    a.lastseen = 0;
    a.name = NULL;
    body = alert_payload_alloc(&a);
    assert_non_null(strstr(body, "\"name\":\"\""));
    assert_non_null(strstr(body, "\"lastseen\":null}"));
    free(body);
    char id[ALERT_ID_LEN + 1];
    a.id = INT64_MAX;
    alert_id_text(&a, id);
    assert_string_equal(id, "9223372036854775807");
}

static void other_kind_with_detail(void **state)
{
    (void)state;
    struct alert a = {.id = 7, .kind = "online", .subject = "rollout:3", .at = TEST_T0,
                      .detail = "{\"rollout\":3,\"id\":\"forged\",\"reason\":\"failures\"}"};
    char *body = alert_payload_alloc(&a);
    assert_string_equal(body, "{\"id\":\"7\",\"kind\":\"online\",\"subject\":\"rollout:3\","
                              "\"time\":\"2026-11-22T08:42:10Z\",\"rollout\":3,\"reason\":\"failures\"}");
    free(body);
    a.detail = "[1]"; /* not an object: left out */
    body = alert_payload_alloc(&a);
    assert_null(strstr(body, "[1]"));
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(liveness_change),
        cmocka_unit_test(other_kind_with_detail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
