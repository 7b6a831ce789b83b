/* provd: the FastCGI worker. Accepts requests from nginx on the socket spawn-fcgi hands it
 * (stdin), turns each into a struct request, routes it, and writes the response back. */
#include <fcgiapp.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "lastseen.h"
#include "reading_pool.h"
#include "validate.h"

static int64_t wall_clock(void)
{
    return (int64_t)time(NULL);
}

/* Reads the body into buf (BODY_MAX + 1 bytes); false with the response set when it cannot. */
static bool read_body(FCGX_Request *fr, struct request *req, char *buf, struct response *res)
{
    const char *length = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
    int64_t len = 0;
    if (length && *length && !parse_int_range(length, 0, INT64_MAX, &len)) {
        response_error(res, 400, "bad Content-Length");
        return false;
    }
    if (len > BODY_MAX) {
        response_error(res, 413, "request body too large (at most %d bytes)", BODY_MAX);
        return false;
    }
    int got = len > 0 ? FCGX_GetStr(buf, (int)len, fr->in) : 0;
    if (got != len) {
        response_error(res, 400, "request body shorter than its Content-Length");
        return false;
    }
    buf[len] = '\0';
    req->body = buf;
    req->body_len = (size_t)len;
    return true;
}

/* glibc gives freed memory back to the kernel: it trims the heap once 128 KB at its top are
 * free (an emptied SQLite page cache is 256 KB) and unmaps big blocks when they are freed. The
 * worker then faults the pages in again, and each give-back interrupts the other cores to flush
 * their TLBs: at a million devices, 0.03-0.1 page faults per heartbeat cost it 3-7% of its
 * throughput. Freed memory now stays for reuse; the peak (VmHWM) is what it was. And one
 * arena for all threads: the heartbeat-time thread and the readings committer each had a heap
 * of their own, 0.24 MB more in the committer's worker. */
static void tune_malloc(void)
{
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_ARENA_MAX, 1);
}

static void put_fcgi(void *stream, const char *bytes, size_t len)
{
    FCGX_PutStr(bytes, (int)len, stream);
}

static void serve(struct app *app, FCGX_Request *fr, char *body_buf, struct response *res)
{
    struct request req = {
        .method = FCGX_GetParam("REQUEST_METHOD", fr->envp),
        .path = FCGX_GetParam("DOCUMENT_URI", fr->envp),
        .query = FCGX_GetParam("QUERY_STRING", fr->envp),
        .authorization = FCGX_GetParam("HTTP_AUTHORIZATION", fr->envp),
        .if_match = FCGX_GetParam("HTTP_IF_MATCH", fr->envp),
        .if_none_match = FCGX_GetParam("HTTP_IF_NONE_MATCH", fr->envp),
    };
    if (!req.query)
        req.query = "";
    response_reset(res);
    res->sink = put_fcgi;
    res->sink_data = fr->out;
    if (!req.method || !req.path)
        response_error(res, 400, "the web server sent no method or path (see nginx.conf)");
    else if (read_body(fr, &req, body_buf, res))
        router_dispatch(app, &req, res);

    if (res->streaming)
        return; /* the handler wrote everything already */
    response_write_head(res, res->body_len > 0 ? "application/json" : NULL, put_fcgi, fr->out);
    if (res->body_len > 0)
        put_fcgi(fr->out, res->body, res->body_len);
}

int main(int argc, char **argv)
{
    struct app app = {.now = wall_clock};
    char err[512];
    /* A client that hangs up must not kill the worker on the next write. */
    signal(SIGPIPE, SIG_IGN);
    /* provd's crypto (AES, SHA-256, random bytes) needs no configuration: not reading
     * openssl.cnf keeps about 0.5 MB of libcrypto out of every worker's memory. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    tune_malloc();
    if (!config_from_env(&app.config, err, sizeof err)) {
        fprintf(stderr, "provd: %s\n", err);
        return 78; /* EX_CONFIG */
    }
    app.store = store_open(app.config.db_path, err, sizeof err);
    if (!app.store) {
        fprintf(stderr, "provd: cannot open the database: %s\n", err);
        return 1;
    }
    if (app.config.sync_every_commit && store_sync_every_commit(app.store) != STORE_OK) {
        fprintf(stderr, "provd: %s\n", store_errmsg(app.store));
        return 1;
    }
    /* --check: validate the configuration and database, then stop (scripts run it first). */
    if (argc > 1 && strcmp(argv[1], "--check") == 0) {
        bool fits = store_prepare_all(app.store) == STORE_OK;
        if (!fits)
            fprintf(stderr, "provd: %s\n", store_errmsg(app.store));
        store_free(app.store);
        return fits ? 0 : 1;
    }
    struct lastseen *seen = lastseen_start(app.config.db_path, err, sizeof err);
    if (!seen) {
        fprintf(stderr, "provd: %s\n", err);
        return 1;
    }
    store_set_seen_sink(app.store, lastseen_queue, seen);
    app.readings = reading_pool_open(&app.config, seen);
    char *body = malloc(BODY_MAX + 1);
    FCGX_Request fr;
    if (!body || FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0) {
        fprintf(stderr, "provd: cannot start FastCGI (run it under spawn-fcgi)\n");
        return 1;
    }
    struct response res;
    response_init(&res);
    while (FCGX_Accept_r(&fr) >= 0) {
        serve(&app, &fr, body, &res);
        FCGX_Finish_r(&fr);
    }
    response_free(&res);
    free(body);
    reading_pool_free(app.readings); /* answers the readings its committer holds */
    lastseen_stop(seen);             /* writes the heartbeat times it holds */
    store_free(app.store);
    return 0;
}
