/* The FastCGI ceiling of `make bench`: a libfcgi responder that answers every request with one
 * fixed line, run exactly like provd (spawn-fcgi + multiwatch, same socket, same nginx site). */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>

static const char reply[] = "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{\"cfgsn\":0}\n";

int main(void)
{
    FCGX_Request fr;
    signal(SIGPIPE, SIG_IGN); /* as provd: a client that hangs up must not end the worker */
    if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0) {
        fprintf(stderr, "fcgi_hello: cannot start FastCGI (run it under spawn-fcgi)\n");
        return 1;
    }
    while (FCGX_Accept_r(&fr) >= 0) {
        FCGX_PutStr(reply, (int)sizeof reply - 1, fr.out);
        FCGX_Finish_r(&fr);
    }
    return 0;
}
