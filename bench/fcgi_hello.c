/* The FastCGI ceiling of `make bench`: a libfcgi responder that answers every request with one
 * fixed line, run exactly like provd (spawn-fcgi + multiwatch, same socket, same nginx site).
 * With --close-at-once it ends each connection as provd does on its Unix socket (a plain close,
 * not libfcgi's wait for nginx to hang up): the bench shows what that alone is worth. */
#include <fcgiapp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char reply[] = "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{\"cfgsn\":0}\n";

int main(int argc, char **argv)
{
    bool close_at_once = argc > 1 && strcmp(argv[1], "--close-at-once") == 0;
    FCGX_Request fr;
    signal(SIGPIPE, SIG_IGN); /* as provd: a client that hangs up must not end the worker */
    if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0) {
        fprintf(stderr, "fcgi_hello: cannot start FastCGI (run it under spawn-fcgi)\n");
        return 1;
    }
    while (FCGX_Accept_r(&fr) >= 0) {
        FCGX_PutStr(reply, (int)sizeof reply - 1, fr.out);
        if (close_at_once)
            FCGX_Detach(&fr);
        FCGX_Finish_r(&fr);
    }
    return 0;
}
