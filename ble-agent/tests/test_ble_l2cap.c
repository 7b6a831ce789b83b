/* Tests of LE L2CAP framing (reassembly bounds, fragmentation at the controller's ACL size)
 * and of the signalling and SMP refusals, byte for byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "l2cap.h"
#include "le_sig.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void rx_single_fragment(void **state)
{
    struct l2cap_rx *rx = l2cap_rx_new(23);
    size_t len;
    uint16_t cid;

    (void)state;
    /* ATT Read Request for handle 3 on CID 4 */
    assert_int_equal(l2cap_rx_push(rx, true, BYTES(0x03, 0x00, 0x04, 0x00, 0x0a, 0x03, 0x00)), 1);
    const uint8_t *p = l2cap_rx_frame(rx, &len, &cid);
    assert_non_null(p);
    assert_int_equal(len, 3);
    assert_int_equal(cid, L2CAP_CID_ATT);
    assert_memory_equal(p, ((uint8_t[]){0x0a, 0x03, 0x00}), 3);
    /* An empty frame is a frame. */
    assert_int_equal(l2cap_rx_push(rx, true, BYTES(0x00, 0x00, 0x05, 0x00)), 1);
    assert_non_null(l2cap_rx_frame(rx, &len, &cid));
    assert_int_equal(len, 0);
    assert_int_equal(cid, L2CAP_CID_LE_SIGNALING);
    l2cap_rx_free(rx);
}

/* A 40-byte ATT write arriving in 27-byte ACL packets, as a 1M PHY link without DLE sends it. */
static void rx_reassembles_fragments(void **state)
{
    struct l2cap_rx *rx = l2cap_rx_new(517);
    uint8_t frame[44], payload[40];
    size_t len;
    uint16_t cid;

    (void)state;
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(0x80 + i);
    assert_int_equal(l2cap_frame(L2CAP_CID_ATT, payload, sizeof(payload), frame, sizeof(frame)), 44);
    assert_int_equal(l2cap_rx_push(rx, true, frame, 27), 0);
    assert_null(l2cap_rx_frame(rx, &len, &cid));
    assert_int_equal(l2cap_rx_push(rx, false, frame + 27, 10), 0);
    assert_int_equal(l2cap_rx_push(rx, false, frame + 37, 7), 1);
    const uint8_t *p = l2cap_rx_frame(rx, &len, &cid);
    assert_int_equal(len, sizeof(payload));
    assert_int_equal(cid, L2CAP_CID_ATT);
    assert_memory_equal(p, payload, sizeof(payload));
    /* The next push starts over. */
    assert_int_equal(l2cap_rx_push(rx, true, frame, 27), 0);
    assert_null(l2cap_rx_frame(rx, &len, &cid));
    l2cap_rx_free(rx);
}

static void rx_rejects_bad_sequences(void **state)
{
    struct l2cap_rx *rx = l2cap_rx_new(23);
    size_t len;
    uint16_t cid;

    (void)state;
    /* Continuation with nothing started */
    assert_int_equal(l2cap_rx_push(rx, false, BYTES(0x01, 0x02)), -EPROTO);
    /* Header cut short */
    assert_int_equal(l2cap_rx_push(rx, true, BYTES(0x03, 0x00, 0x04)), -EPROTO);
    /* Over the bound: 24 > 23, dropped before any byte is stored */
    assert_int_equal(l2cap_rx_push(rx, true, BYTES(0x18, 0x00, 0x04, 0x00, 0x0a)), -EMSGSIZE);
    assert_int_equal(l2cap_rx_push(rx, false, BYTES(0x01)), -EPROTO);
    /* More bytes than the length field announced */
    assert_int_equal(l2cap_rx_push(rx, true, BYTES(0x02, 0x00, 0x04, 0x00, 0x0a)), 0);
    assert_int_equal(l2cap_rx_push(rx, false, BYTES(0x03, 0x00)), -EPROTO);
    assert_int_equal(l2cap_rx_push(rx, false, BYTES(0x03)), -EPROTO);
    /* A new start abandons an unfinished frame. */
    assert_int_equal(l2cap_rx_push(rx, true, BYTES(0x05, 0x00, 0x04, 0x00, 0x0a)), 0);
    assert_int_equal(l2cap_rx_push(rx, true, BYTES(0x01, 0x00, 0x06, 0x00, 0x01)), 1);
    const uint8_t *p = l2cap_rx_frame(rx, &len, &cid);
    assert_int_equal(len, 1);
    assert_int_equal(cid, L2CAP_CID_SMP);
    assert_int_equal(p[0], 0x01);
    /* Exactly at the bound */
    uint8_t full[27] = {23, 0, 4, 0};
    assert_int_equal(l2cap_rx_push(rx, true, full, sizeof(full)), 1);
    l2cap_rx_free(rx);
}

static void tx_fragments_at_acl_mtu(void **state)
{
    uint8_t payload[300], frame[304];
    struct l2cap_tx tx;
    const uint8_t *frag;
    size_t len, total = 0, count = 0;
    bool first;

    (void)state;
    memset(payload, 0x42, sizeof(payload));
    assert_int_equal(l2cap_frame(L2CAP_CID_ATT, payload, sizeof(payload), frame, sizeof(frame)), 304);
    assert_memory_equal(frame, ((uint8_t[]){0x2c, 0x01, 0x04, 0x00}), 4);
    assert_int_equal(l2cap_frame(L2CAP_CID_ATT, payload, sizeof(payload), frame, 303), 0);
    /* btvirt's 192-byte ACL buffer: 192 + 112 */
    l2cap_tx_init(&tx, frame, sizeof(frame), 192);
    while (l2cap_tx_next(&tx, &frag, &len, &first)) {
        assert_ptr_equal(frag, frame + total);
        assert_int_equal(first, count == 0);
        total += len;
        count++;
    }
    assert_int_equal(count, 2);
    assert_int_equal(total, sizeof(frame));
    /* Exactly one buffer */
    l2cap_tx_init(&tx, frame, 27, 27);
    assert_true(l2cap_tx_next(&tx, &frag, &len, &first));
    assert_int_equal(len, 27);
    assert_true(first);
    assert_false(l2cap_tx_next(&tx, &frag, &len, &first));
}

/* Round trip: what the sender splits, the receiver puts back together. */
static void tx_rx_round_trip(void **state)
{
    struct l2cap_rx *rx = l2cap_rx_new(517);
    uint8_t payload[517], frame[521];
    struct l2cap_tx tx;
    const uint8_t *frag;
    size_t len, got_len = 0;
    uint16_t cid;
    bool first;
    int r = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 13);
    l2cap_tx_init(&tx, frame, l2cap_frame(L2CAP_CID_ATT, payload, sizeof(payload), frame, sizeof(frame)), 27);
    while (l2cap_tx_next(&tx, &frag, &len, &first)) {
        assert_int_equal(r, 0);
        r = l2cap_rx_push(rx, first, frag, len);
    }
    assert_int_equal(r, 1);
    const uint8_t *p = l2cap_rx_frame(rx, &got_len, &cid);
    assert_int_equal(got_len, sizeof(payload));
    assert_memory_equal(p, payload, sizeof(payload));
    l2cap_rx_free(rx);
}

static void expect_answer(size_t (*fn)(const uint8_t *, size_t, uint8_t *), const uint8_t *in, size_t in_len,
                          const uint8_t *want, size_t want_len)
{
    uint8_t out[LE_SIG_ANSWER_MAX];

    assert_int_equal(fn(in, in_len, out), want_len);
    if (want_len)
        assert_memory_equal(out, want, want_len);
}

#define NOTHING NULL, 0

/* /TP/LE/CPU/BV-02-C style: the request is answered; a peripheral cannot apply it. */
static void sig_conn_param_update(void **state)
{
    (void)state;
    expect_answer(le_sig_answer,
                  BYTES(0x12, 0x07, 0x08, 0x00, 0x18, 0x00, 0x28, 0x00, 0x00, 0x00, 0x2c, 0x01),
                  BYTES(0x13, 0x07, 0x02, 0x00, 0x01, 0x00));
    /* Wrong length: Command Reject, not understood */
    expect_answer(le_sig_answer, BYTES(0x12, 0x08, 0x04, 0x00, 0x18, 0x00, 0x28, 0x00),
                  BYTES(0x01, 0x08, 0x02, 0x00, 0x00, 0x00));
    expect_answer(le_sig_answer, BYTES(0x12, 0x09, 0x08, 0x00, 0x18, 0x00, 0x28, 0x00, 0x00, 0x00, 0x2c),
                  BYTES(0x01, 0x09, 0x02, 0x00, 0x00, 0x00));
}

/* /TP/LE/REJ/BI-01-C style: unknown commands are rejected; responses never answered. */
static void sig_reject_and_ignore(void **state)
{
    (void)state;
    expect_answer(le_sig_answer, BYTES(0x0a, 0x03, 0x02, 0x00, 0x02, 0x00),
                  BYTES(0x01, 0x03, 0x02, 0x00, 0x00, 0x00));
    expect_answer(le_sig_answer,
                  BYTES(0x14, 0x04, 0x0a, 0x00, 0x80, 0x00, 0x40, 0x00, 0x17, 0x00, 0x17, 0x00, 0x0a, 0x00),
                  BYTES(0x01, 0x04, 0x02, 0x00, 0x00, 0x00));
    expect_answer(le_sig_answer, BYTES(0x01, 0x05, 0x02, 0x00, 0x00, 0x00), NOTHING);
    expect_answer(le_sig_answer, BYTES(0x13, 0x05, 0x02, 0x00, 0x00, 0x00), NOTHING);
    expect_answer(le_sig_answer, BYTES(0x0a, 0x00, 0x02, 0x00, 0x02, 0x00), NOTHING);
    expect_answer(le_sig_answer, BYTES(0x0a, 0x03, 0x02), NOTHING);
}

/* /TP/SEC/SEM/BV-... style: pairing is refused, Pairing Failed is not answered. */
static void smp_pairing_not_supported(void **state)
{
    (void)state;
    expect_answer(smp_answer, BYTES(0x01, 0x03, 0x00, 0x01, 0x10, 0x07, 0x07), BYTES(0x05, 0x05));
    expect_answer(smp_answer, BYTES(0x0c, 0x00), BYTES(0x05, 0x07));
    expect_answer(smp_answer, BYTES(0x05, 0x05), NOTHING);
    expect_answer(smp_answer, NOTHING, NOTHING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rx_single_fragment),       cmocka_unit_test(rx_reassembles_fragments),
        cmocka_unit_test(rx_rejects_bad_sequences), cmocka_unit_test(tx_fragments_at_acl_mtu),
        cmocka_unit_test(tx_rx_round_trip),         cmocka_unit_test(sig_conn_param_update),
        cmocka_unit_test(sig_reject_and_ignore),    cmocka_unit_test(smp_pairing_not_supported),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
