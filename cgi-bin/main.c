/* provd: the FastCGI worker. Accepts requests from nginx on the socket spawn-fcgi hands it
 * (stdin), turns each into a struct request, routes it, and writes the response back. */
#include <fastcgi.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "app.h"
#include "isotime.h"
#include "log.h"
#include "metrics.h"
#include "rollout.h"
#include "server_key.h"
#include "writer.h"
#include "store_sqlite.h"
#include "turns.h"
#include "validate.h"

/* Request threads per worker: one runs at a time; the others take requests while it waits
 * for the writer's answer to a reading (see turns.h). Two; four where each commit waits for its
 * flush (STORE_NEEDS_FLUSHED_COMMITS), so that a stack has readings enough in flight to fill the
 * writer's batches (why, measured: bench/README.md, History, "PostgreSQL's readings through a
 * writer"). */
#define REQUEST_THREADS_MAX 4
_Static_assert(REQUEST_THREADS_MAX <= WRITER_THREADS, "a writer connection per request thread");

static int request_threads(unsigned needs)
{
    return needs & STORE_NEEDS_FLUSHED_COMMITS ? REQUEST_THREADS_MAX : 2;
}

/* Reads the body into buf (BODY_MAX + 1 bytes), or for a route that takes more (router_body_max())
 * a larger one of its own, *big (the caller frees it); false with the response set when it cannot. */
static bool read_body(struct app *app, FCGX_Request *fr, struct request *req, char *buf, char **big,
                      struct response *res)
{
    const char *length = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
    int64_t len = 0, max = (int64_t)router_body_max(app, req->method, req->path);
    if (length && *length && !parse_int_range(length, 0, INT64_MAX, &len)) {
        response_error(res, 400, "bad Content-Length");
        return false;
    }
    if (len > max) {
        response_error(res, 413, "request body too large (at most %lld bytes)", (long long)max);
        return false;
    }
    if (len > BODY_MAX && !(buf = *big = malloc((size_t)len + 1))) {
        response_error(res, 503, "out of memory for the request body: try again shortly");
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
 * their TLBs (what that cost, measured: bench/README.md, Memory). Freed memory now stays for
 * reuse; the peak (VmHWM) is what it was. And one arena for all threads, so that the writer's
 * thread has no heap of its own. */
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

/* nginx's $request_id (REQUEST_ID, nginx.conf): 32 hex digits; anything else is not logged. */
static const char *request_id(FCGX_Request *fr)
{
    const char *id = FCGX_GetParam("REQUEST_ID", fr->envp);
    size_t len = id ? strspn(id, "0123456789abcdef") : 0;
    return len > 0 && len <= 64 && id[len] == '\0' ? id : NULL;
}

/* METRICS_ALLOWED is nginx's own parameter (nginx.conf: the client's address is in METRICS_ALLOW):
 * a client's headers reach provd only as HTTP_*, so no client can set it. */
static void serve(struct app *app, FCGX_Request *fr, char *body_buf, struct response *res)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    const char *metrics_allowed = FCGX_GetParam("METRICS_ALLOWED", fr->envp);
    struct request req = {
        .method = FCGX_GetParam("REQUEST_METHOD", fr->envp),
        .path = FCGX_GetParam("DOCUMENT_URI", fr->envp),
        .query = FCGX_GetParam("QUERY_STRING", fr->envp),
        .authorization = FCGX_GetParam("HTTP_AUTHORIZATION", fr->envp),
        .if_match = FCGX_GetParam("HTTP_IF_MATCH", fr->envp),
        .if_none_match = FCGX_GetParam("HTTP_IF_NONE_MATCH", fr->envp),
        .device_auth = FCGX_GetParam("HTTP_X_PROVD_AUTH", fr->envp),
        .remote_addr = FCGX_GetParam("REMOTE_ADDR", fr->envp),
        .metrics_allowed = metrics_allowed && strcmp(metrics_allowed, "1") == 0,
        .params = fr->envp,
    };
    char *big_body = NULL;
    if (!req.query)
        req.query = "";
    app->request_id = request_id(fr);
    response_reset(res);
    res->sink = put_fcgi;
    res->sink_data = fr->out;
    int route = METRICS_NO_ROUTE;
    if (!req.method || !req.path)
        response_error(res, 400, "the web server sent no method or path (see nginx.conf)");
    else if (read_body(app, fr, &req, body_buf, &big_body, res))
        route = router_dispatch(app, &req, res);
    free(big_body);

    if (!res->streaming) { /* else the handler wrote everything already */
        const char *type = res->content_type ? res->content_type : "application/json";
        response_write_head(res, res->body_len > 0 ? type : NULL, put_fcgi, fr->out);
        if (res->body_len > 0)
            put_fcgi(fr->out, res->body, res->body_len);
    }
    /* Counted before FCGX_Finish_r() sends the end of the answer: a client holding its answer
     * finds the request counted. */
    metrics_request(app->metrics, route, res->status, micros_since(&start));
    app->request_id = NULL; /* fr's, gone with the request */
}

/* libfcgi ends a connection by shutting down its side and waiting until nginx hangs up (a
 * sleep and a wake-up per request; measured: bench/README.md), so that a TCP
 * reset cannot destroy an answer nginx has not read yet. On a Unix socket a close never
 * discards what was sent, and nginx has the whole answer once it has the END_REQUEST record:
 * there the worker closes at once (FCGX_Detach turns libfcgi's close into a plain close()). */
static bool close_at_once;

static bool listens_on_unix_socket(void)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    return getsockname(FCGI_LISTENSOCK_FILENO, (struct sockaddr *)&addr, &len) == 0 &&
           addr.ss_family == AF_UNIX;
}

/* One request thread: its own request, buffers and connection to the writer; the database
 * connection and the rest of the worker's state are the app's, used in turns. */
struct request_thread {
    int index;
    struct app app;
    struct turns *turns;
    FCGX_Request fr;
    struct response res;
    char *body;
};

/* SIGTERM and SIGUSR1 stop the worker: libfcgi's accept gives up once told, and the signal
 * breaks the accept() under way. It may reach a thread other than the one in accept(): then it
 * is passed on to that one. Written before the second thread starts, read-only afterwards. */
static pthread_t request_pthreads[REQUEST_THREADS_MAX];
static atomic_int in_accept = -1; /* the index of the thread in accept(); -1: none */

static void stop_on_signal(int sig)
{
    FCGX_ShutdownPending();
    int i = atomic_load(&in_accept);
    if (i >= 0 && !pthread_equal(request_pthreads[i], pthread_self()))
        pthread_kill(request_pthreads[i], sig);
}

/* After FCGX_Init(): these take the place of libfcgi's own handlers, which only mark the
 * shutdown. No SA_RESTART: accept() must break. */
static void catch_stop_signals(void)
{
    struct sigaction stop = {.sa_handler = stop_on_signal};
    sigfillset(&stop.sa_mask);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGUSR1, &stop, NULL);
    /* A Ctrl-C reaches the whole stack: multiwatch, which gets it too, stops the workers (with
     * SIGUSR1). A worker that stopped by itself first would be started again. */
    signal(SIGINT, SIG_IGN);
}

/* Sends what is left of the answer and ends the request. */
static void finish_request(FCGX_Request *fr)
{
    if (close_at_once)
        FCGX_Detach(fr);
    FCGX_Finish_r(fr);
}

/* Whether the stack's writer takes this worker's heartbeat times (the database's one writer). */
static bool writer_takes_times(const struct app *app)
{
    return app->writer && (store_needs(app->store) & STORE_NEEDS_ONE_WRITER);
}

/* Where the writer's lock and socket are named from (writer.h), into buf: beside the database when
 * it is the database's one writer, else in this host's run directory; NULL: no writer here. */
static const char *writer_at(const struct config *c, unsigned needs, char *buf, size_t len)
{
    if (needs & STORE_NEEDS_ONE_WRITER)
        return c->db_path;
    if (!c->run_dir || snprintf(buf, len, "%s/provd", c->run_dir) >= (int)len)
        return NULL;
    return buf;
}

/* The worker's queued heartbeat times, once due: handed to the writer (SQLite; should none take
 * them, written on own, a connection the caller may use now, or with own NULL kept), or written
 * by the store itself (PostgreSQL). Returns the ms until they are due, -1 when none are queued.
 * Called after every request and by the idle work: traffic can keep the idle work from running
 * (it runs only while no request does), and an idle worker runs no request. */
static int write_due_times(struct app *app, struct store *own)
{
    if (writer_takes_times(app))
        return writer_hand_over(app->writer, own);
    if (store_needs(app->store) & STORE_NEEDS_FLUSHES)
        return store_flush(app->store, false);
    return -1;
}

/* Whether the worker's kept heartbeat times (PostgreSQL's) are due: then they are written once the
 * answer is out, so that no device waits for a batch of others' times to be written. */
static bool times_due(const struct app *app)
{
    return !writer_takes_times(app) && store_flush_due_in(app->store) == 0;
}

static void *request_loop(void *data)
{
    struct request_thread *t = data;
    while (turns_accept(t->turns)) {
        atomic_store(&in_accept, t->index);
        int accepted = FCGX_Accept_r(&t->fr);
        atomic_store(&in_accept, -1);
        if (accepted < 0) {
            turns_stop(t->turns);
            break;
        }
        turns_accepted(t->turns);
        serve(&t->app, &t->fr, t->body, &t->res);
        bool write_after = times_due(&t->app);
        if (writer_takes_times(&t->app)) /* its hand-over: a send at most */
            write_due_times(&t->app, t->app.store);
        void (*after_answer)(struct app *) = t->app.after_answer;
        t->app.after_answer = NULL;
        if (after_answer || write_after) { /* the answer goes first; the work keeps this thread's turn */
            finish_request(&t->fr);
            if (after_answer)
                after_answer(&t->app);
            if (write_after) /* while this thread may use the connection */
                write_due_times(&t->app, t->app.store);
            turns_done(t->turns);
        } else {
            turns_done(t->turns);
            finish_request(&t->fr);
        }
    }
    return NULL;
}

static bool request_thread_init(struct request_thread *t, int index, const struct app *app,
                                struct turns *turns)
{
    t->index = index;
    t->app = *app;
    t->app.thread = index;
    t->turns = turns;
    t->body = malloc(BODY_MAX + 1);
    response_init(&t->res);
    return t->body && FCGX_InitRequest(&t->fr, 0, 0) == 0;
}

/* The other request threads take no signals but the stop signals passed on to them. */
static bool start_request_thread(struct request_thread *t)
{
    sigset_t others, old;
    sigfillset(&others);
    sigdelset(&others, SIGTERM);
    sigdelset(&others, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &others, &old);
    bool started = pthread_create(&request_pthreads[t->index], NULL, request_loop, t) == 0 &&
                   pthread_detach(request_pthreads[t->index]) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}


/* The server key of the worker's stores, for its whole life. */
static struct server_key server_key;

/* Loads the server key into app's configuration and store; --check (check) makes the file if it
 * is missing. false with the reason in err. */
static bool use_server_key(struct app *app, bool check, char *err, size_t err_len)
{
    char path[512];
    if (!server_key_path(app->config.db_path, path, sizeof path, err, err_len) ||
        !server_key_load(path, check, &server_key, err, err_len))
        return false;
    app->config.server_key = &server_key;
    store_use_server_key(app->store, &server_key);
    return true;
}

/* A rollout sweep (rollout.h) when PROVD_ROLLOUT_SWEEP seconds have passed since this worker's
 * last. Every worker of every host sweeps: each transition is a conditional UPDATE, so however many
 * sweep at once, a stage starts once; rollouts move with no request arriving. */
static void sweep_rollouts(struct app *app)
{
    static int64_t next_sweep;
    int64_t now = app->now();
    if (app->config.rollout_sweep <= 0 || now < next_sweep)
        return;
    next_sweep = now + app->config.rollout_sweep;
    struct rollout_sweep_result r;
    if (rollout_sweep(app->store, now, &r) != STORE_OK)
        log_event("error", "rollout_sweep", NULL, NULL, "%s", store_errmsg(app->store));
    else if (r.stages || r.done || r.stopped || r.timed_out)
        log_event("info", "rollout_sweep", NULL, NULL, "stages=%d done=%d stopped=%d timed_out=%lld", r.stages,
                  r.done, r.stopped, (long long)r.timed_out);
}

/* The idle work of a request thread waiting its turn: the heartbeat times, then the rollouts' sweep. */
static int idle_work(void *data)
{
    struct app *app = data;
    int next = write_due_times(app, NULL);
    sweep_rollouts(app);
    return next;
}

int main(int argc, char **argv)
{
    struct app app = {.now = isotime_now};
    bool check = argc > 1 && strcmp(argv[1], "--check") == 0;
    char err[512];
    /* A client that hangs up must not kill the worker on the next write. */
    signal(SIGPIPE, SIG_IGN);
    /* provd's crypto (AES, SHA-256, random bytes) needs no configuration and prints no OpenSSL
     * error text: not reading openssl.cnf keeps about 0.5 MB of libcrypto out of every worker's
     * memory, and not loading the error strings (which the first random bytes would) 0.6 MB. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
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
    if (!use_server_key(&app, check, err, sizeof err)) {
        fprintf(stderr, "provd: %s\n", err);
        return 78; /* EX_CONFIG */
    }
    if (app.config.sync_every_commit && store_sync_every_commit(app.store) != STORE_OK) {
        fprintf(stderr, "provd: %s\n", store_errmsg(app.store));
        return 1;
    }
    /* The host's shared counters (PROVD_METRICS_FILE), or this worker's own; none when off. */
    bool metrics_on = !app.config.metrics_off;
    if (metrics_on) {
        app.metrics = metrics_open(app.config.metrics_file, err, sizeof err);
        if (!app.metrics)
            fprintf(stderr, "provd: metrics: %s\n", err);
    }
    /* --check: validate the configuration, database and metrics file, and seal the device keys
     * still stored plain, then stop (scripts run it first). */
    if (check) {
        int64_t sealed;
        bool fits =
            store_prepare_all(app.store) == STORE_OK && store_seal_keys(app.store, &sealed) == STORE_OK;
        if (!fits)
            fprintf(stderr, "provd: %s\n", store_errmsg(app.store));
        store_free(app.store);
        metrics_close(app.metrics);
        return fits && (app.metrics || !metrics_on) ? 0 : 1;
    }
    if (!app.metrics && metrics_on) /* the file went bad since --check: counted, if for this worker alone */
        app.metrics = metrics_open(NULL, err, sizeof err);
    /* Readings go to the stack's writer (writer.h), which group-commits them; where the database
     * has one writer at a time it also takes heartbeat times and runs checkpoints. Without a
     * writer (it cannot be had here) the worker writes everything itself. */
    unsigned needs = store_needs(app.store);
    struct turns *turns = turns_new();
    char writer_path[4096];
    const char *at = writer_at(&app.config, needs, writer_path, sizeof writer_path);
    if (turns && at && (needs & STORE_NEEDS_GROUP_COMMIT))
        app.writer = writer_open(&app.config, at, turns);
    if (writer_takes_times(&app)) {
        store_set_seen_sink(app.store, writer_seen, app.writer);
        if (needs & STORE_NEEDS_CHECKPOINTS)
            store_leave_checkpoints(app.store);
    }
    if (turns)
        turns_set_idle(turns, idle_work, &app);
    struct request_thread threads[REQUEST_THREADS_MAX];
    int n_threads = request_threads(needs);
    bool ready = turns && FCGX_Init() == 0;
    close_at_once = listens_on_unix_socket();
    for (int i = 0; ready && i < n_threads; i++)
        ready = request_thread_init(&threads[i], i, &app, turns);
    catch_stop_signals();
    request_pthreads[0] = pthread_self();
    for (int i = 1; ready && i < n_threads; i++)
        ready = start_request_thread(&threads[i]);
    if (!ready) {
        fprintf(stderr, "provd: cannot start FastCGI (run it under spawn-fcgi)\n");
        return 1;
    }
    request_loop(&threads[0]);
    /* No thread runs handler code or waits for the writer any more (turns_stop): the writer, if
     * it is here, answers what it was sent, and the heartbeat times queued here are handed over. */
    writer_free(app.writer, app.store);
    store_free(app.store);
    metrics_close(app.metrics);
    return 0;
}
