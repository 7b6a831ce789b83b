/* One alert POSTed to PROVD_ALERT_WEBHOOK with libcurl: bounded in time, only http and https,
 * no redirects followed, optionally signed (X-Provd-Signature: sha256=HMAC of the body under
 * PROVD_ALERT_SECRET). The connection is kept for the next alert. */
#ifndef PROVD_WEBHOOK_H
#define PROVD_WEBHOOK_H

#include <stddef.h>

#define WEBHOOK_CONNECT_TIMEOUT_MS 5000
#define WEBHOOK_TIMEOUT_MS         10000 /* the whole exchange */

enum webhook_result {
    WEBHOOK_SENT,    /* a 2xx: delivered */
    WEBHOOK_RETRY,   /* no answer, 408, 429, 5xx, a redirect: try again later */
    WEBHOOK_REFUSED, /* another 4xx: the receiver will never take this body */
};

struct webhook;

/* url and secret (NULL: unsigned) are copied; NULL when libcurl cannot be set up. */
struct webhook *webhook_new(const char *url, const char *secret);
void webhook_free(struct webhook *w);
/* POSTs body (JSON) with X-Provd-Alert-Id: id; why gets a line for the log when it is not sent. */
enum webhook_result webhook_post(struct webhook *w, const char *body, const char *id, char *why, size_t why_len);

#endif
