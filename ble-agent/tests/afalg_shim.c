/* Test-only LD_PRELOAD shim for BlueZ's btvirt on kernels without AF_ALG: socket(AF_ALG)
 * yields a harmless AF_UNIX socket and bind() on it succeeds, so emulated controllers start. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>

#ifndef AF_ALG
#define AF_ALG 38 /* linux/socket.h */
#endif

int socket(int domain, int type, int protocol);
int bind(int fd, const struct sockaddr *addr, socklen_t len);

int socket(int domain, int type, int protocol)
{
    int (*real)(int, int, int) = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");

    if (domain == AF_ALG)
        return real(AF_UNIX, SOCK_SEQPACKET | (type & (SOCK_CLOEXEC | SOCK_NONBLOCK)), 0);
    return real(domain, type, protocol);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    int (*real)(int, const struct sockaddr *, socklen_t) =
        (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");

    /* Crypto sockets bind a struct sockaddr_alg; only those are faked. */
    if (addr && addr->sa_family == AF_ALG)
        return 0;
    return real(fd, addr, len);
}
