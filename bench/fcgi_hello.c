/* The FastCGI ceiling of `make bench`: a libfcgi responder that answers every request with one
 * fixed line, run exactly like provd (spawn-fcgi + multiwatch, same socket, same nginx site).
 * With --close-at-once it ends each connection as provd does on its Unix socket (a plain close,
 * not libfcgi's wait for nginx to hang up): the bench shows what that alone is worth.
 * With --redirect URI MD5 SHA256 it answers as provd answers a firmware download, with nothing
 * but the X-Accel-Redirect to the cached image and its digests: the download's ceiling. */
#include <fcgiapp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char hello[] = "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{\"cfgsn\":0}\n";

int main(int argc, char **argv)
{
    bool close_at_once = argc == 2 && strcmp(argv[1], "--close-at-once") == 0;
    const char *reply = hello;
    int len = (int)sizeof hello - 1;
    char redirect[512];
    if (argc == 5 && strcmp(argv[1], "--redirect") == 0) {
        reply = redirect;
        len = snprintf(redirect, sizeof redirect,
                       "Status: 200 OK\r\nX-Accel-Redirect: %s\r\nx-MD5: %s\r\nx-SHA256: %s\r\n\r\n", argv[2],
                       argv[3], argv[4]);
        if (len < 0 || len >= (int)sizeof redirect) {
            fprintf(stderr, "fcgi_hello: --redirect's arguments are too long\n");
            return 1;
        }
    } else if (argc > 1 && !close_at_once) {
        fprintf(stderr, "usage: fcgi_hello [--close-at-once | --redirect URI MD5 SHA256]\n");
        return 1;
    }
    FCGX_Request fr;
    signal(SIGPIPE, SIG_IGN); /* as provd: a client that hangs up must not end the worker */
    if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0) {
        fprintf(stderr, "fcgi_hello: cannot start FastCGI (run it under spawn-fcgi)\n");
        return 1;
    }
    while (FCGX_Accept_r(&fr) >= 0) {
        FCGX_PutStr(reply, len, fr.out);
        if (close_at_once)
            FCGX_Detach(&fr);
        FCGX_Finish_r(&fr);
    }
    return 0;
}
