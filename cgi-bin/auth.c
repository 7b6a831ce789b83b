/* Admin authentication: "Authorization: Bearer <token>", checked against the stored SHA-256. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "secret.h"

#define TOKEN_MAX 256

static bool token_in_query(const char *query)
{
    char value[8];
    return query_param(query, "access_token", value, sizeof value) != 0 ||
           query_param(query, "token", value, sizeof value) != 0;
}

static void unauthorized(struct response *res, const char *message)
{
    response_header(res, "WWW-Authenticate", "Bearer realm=\"provd\"");
    response_error(res, 401, "%s", message);
}

bool auth_admin(struct app *app, const struct request *req, struct response *res)
{
    /* A token in a URL ends up in logs and browser history: refuse it even when it is valid. */
    if (token_in_query(req->query)) {
        unauthorized(res, "tokens in the query string are refused: send Authorization: Bearer TOKEN");
        return false;
    }
    const char *h = req->authorization;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        unauthorized(res, "admin token required: send Authorization: Bearer TOKEN");
        return false;
    }
    const char *token = h + 7;
    size_t len = strlen(token);
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    if (len == 0 || len > TOKEN_MAX) {
        unauthorized(res, "invalid admin token");
        return false;
    }
    secret_sha256(token, len, hash);
    int64_t now = app->now();
    enum store_status st = store_token_check(app->store, hash, now, app->actor.name);
    switch (st) {
    case STORE_OK:
        app->actor.via = AUDIT_VIA_API;
        app->actor.at = now;
        return true;
    case STORE_NOT_FOUND: unauthorized(res, "invalid admin token"); return false;
    case STORE_STALE:
        unauthorized(res, "admin token expired: make a new one (provctl token create)");
        return false;
    default: respond_store_error(app, res, st); return false;
    }
}
