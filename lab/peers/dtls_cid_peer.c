/*
 * dtls_cid_peer: a lab test tool (not product code). A DTLS 1.2 PSK peer with Connection ID
 * (RFC 9146) built on Mbed TLS 3.6, for the cidlb lab where the sample programs fall short:
 *
 *   server: many sessions at once on one unconnected UDP socket. Every session gets its own
 *           6-byte CID whose first byte is the node id (Californium's DTLS_CONNECTION_ID_NODE).
 *           Datagrams holding a tls12_cid record are matched to their session by CID, others
 *           by peer address; after a record from a new address authenticates, replies follow
 *           that address (RFC 9146 §6: the peer's NAT rebound). Every application record is
 *           echoed back prefixed with "n<node>:". One log line per event on stdout.
 *   client: one session to host:port, then `count` echo exchanges, optionally pausing after
 *           `pause_after` of them (the lab flushes NAT state or waits out a timeout then).
 *
 * Usage:
 *   dtls_cid_peer server node=1 [port=5684] [psk=HEX] [seconds=N]
 *   dtls_cid_peer client host=IP [port=5684] [psk=HEX] [name=c1] [count=5] [size=64]
 *                        [interval_ms=100] [pause_after=0] [pause_ms=0] [timeout_ms=1000]
 *                        [tries=4]
 * Exit status: 0 when every exchange was echoed (client) / on a clean stop (server).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/error.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_cookie.h"
#include "mbedtls/timing.h"
#include "psa/crypto.h"

#define CID_LEN 6
#define MAX_SESSIONS 128
#define MAX_DATAGRAM 4096
#define PSK_IDENTITY "lab"

static const int ciphersuites[] = { MBEDTLS_TLS_PSK_WITH_AES_128_CCM_8, 0 };

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void) sig; stopping = 1; }

static const char *arg(int argc, char **argv, const char *key, const char *dflt)
{
    size_t n = strlen(key);
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=') {
            return argv[i] + n + 1;
        }
    }
    return dflt;
}

static size_t unhex(const char *hex, unsigned char *out, size_t max)
{
    size_t n = 0;
    while (hex[0] && hex[1] && n < max) {
        unsigned int b;
        if (sscanf(hex, "%2x", &b) != 1) {
            break;
        }
        out[n++] = (unsigned char) b;
        hex += 2;
    }
    return n;
}

static void hex(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        sprintf(out + 2 * i, "%02x", in[i]);
    }
    out[2 * len] = 0;
}

static void addr_str(const struct sockaddr_storage *a, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *) a;
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
            inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], ip, sizeof ip);
        } else {
            inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
        }
        port = ntohs(s->sin6_port);
    } else if (a->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *) a;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
        port = ntohs(s->sin_port);
    }
    snprintf(out, len, "%s:%u", ip, port);
}

static const char *err_str(int ret)
{
    static char buf[128];
    mbedtls_strerror(ret, buf, sizeof buf);
    return buf;
}

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_ssl_config conf;
static unsigned char psk[64];
static size_t psk_len;

static int setup_common(int argc, char **argv, int endpoint)
{
    int ret;
    if (psa_crypto_init() != PSA_SUCCESS) {
        fprintf(stderr, "psa_crypto_init failed\n");
        return -1;
    }
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    if ((ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                     (const unsigned char *) "cidlb-lab", 9)) != 0) {
        fprintf(stderr, "ctr_drbg_seed: %s\n", err_str(ret));
        return -1;
    }
    psk_len = unhex(arg(argc, argv, "psk", "6c61622d7073682d6b6579"), psk, sizeof psk);
    mbedtls_ssl_config_init(&conf);
    if ((ret = mbedtls_ssl_config_defaults(&conf, endpoint, MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        fprintf(stderr, "config_defaults: %s\n", err_str(ret));
        return -1;
    }
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_min_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_max_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_ciphersuites(&conf, ciphersuites);
    if ((ret = mbedtls_ssl_conf_psk(&conf, psk, psk_len, (const unsigned char *) PSK_IDENTITY,
                                    strlen(PSK_IDENTITY))) != 0) {
        fprintf(stderr, "conf_psk: %s\n", err_str(ret));
        return -1;
    }
    mbedtls_ssl_conf_handshake_timeout(&conf, 200, 3200);
    /* The server's CIDs are CID_LEN bytes; the client asks for none for itself. */
    if ((ret = mbedtls_ssl_conf_cid(&conf, endpoint == MBEDTLS_SSL_IS_SERVER ? CID_LEN : 0,
                                    MBEDTLS_SSL_UNEXPECTED_CID_IGNORE)) != 0) {
        fprintf(stderr, "conf_cid: %s\n", err_str(ret));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- server */

struct session {
    int used;
    int open;
    mbedtls_ssl_context ssl;
    mbedtls_timing_delay_context timer;
    struct sockaddr_storage peer;     /* where records go */
    socklen_t peer_len;
    struct sockaddr_storage from;     /* source of the datagram being handed to Mbed TLS */
    socklen_t from_len;
    unsigned char cid[CID_LEN];
    unsigned char inbox[MAX_DATAGRAM];
    size_t inbox_len;
    time_t last_seen;
    unsigned long records;
};

static struct session sessions[MAX_SESSIONS];
static int server_socket = -1;
static unsigned node_id;
static mbedtls_ssl_cookie_ctx cookies;

static int session_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct session *s = ctx;
    ssize_t n = sendto(server_socket, buf, len, 0, (struct sockaddr *) &s->peer, s->peer_len);
    if (n < 0) {
        return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
    }
    return (int) n;
}

static int session_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct session *s = ctx;
    if (s->inbox_len == 0) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    size_t n = s->inbox_len < len ? s->inbox_len : len;
    memcpy(buf, s->inbox, n);
    s->inbox_len = 0;
    return (int) n;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;
    return a->ss_family == b->ss_family && x->sin6_port == y->sin6_port
           && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

static void session_free(struct session *s, const char *why)
{
    char cid[2 * CID_LEN + 1], peer[64];
    hex(s->cid, CID_LEN, cid);
    addr_str(&s->peer, peer, sizeof peer);
    if (s->open) {
        printf("node=%u event=close cid=%s peer=%s records=%lu reason=%s\n", node_id, cid, peer,
               s->records, why);
    }
    mbedtls_ssl_free(&s->ssl);
    memset(s, 0, sizeof *s);
}

static struct session *session_new(const struct sockaddr_storage *from, socklen_t from_len)
{
    struct session *s = NULL;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (!sessions[i].used) {
            s = &sessions[i];
            s->cid[1] = (unsigned char) i;
            break;
        }
    }
    if (s == NULL) {
        printf("node=%u event=full\n", node_id);
        return NULL;
    }
    s->used = 1;
    s->cid[0] = (unsigned char) node_id;
    mbedtls_ctr_drbg_random(&drbg, s->cid + 2, CID_LEN - 2);
    s->peer = *from;
    s->peer_len = from_len;
    mbedtls_ssl_init(&s->ssl);
    int ret = mbedtls_ssl_setup(&s->ssl, &conf);
    if (ret == 0) {
        ret = mbedtls_ssl_set_cid(&s->ssl, MBEDTLS_SSL_CID_ENABLED, s->cid, CID_LEN);
    }
    if (ret == 0) {
        ret = mbedtls_ssl_set_client_transport_id(&s->ssl, (const unsigned char *) from, from_len);
    }
    if (ret != 0) {
        printf("node=%u event=error what=setup err=%s\n", node_id, err_str(ret));
        session_free(s, "setup");
        return NULL;
    }
    mbedtls_ssl_set_bio(&s->ssl, s, session_send, session_recv, NULL);
    mbedtls_ssl_set_timer_cb(&s->ssl, &s->timer, mbedtls_timing_set_delay, mbedtls_timing_get_delay);
    return s;
}

/* Let Mbed TLS consume what the session's inbox holds (or fire its retransmission timer). */
static void session_step(struct session *s)
{
    char cid[2 * CID_LEN + 1], peer[64], from[64];
    unsigned char buf[MAX_DATAGRAM];
    int ret;
    hex(s->cid, CID_LEN, cid);
    if (!s->open) {
        ret = mbedtls_ssl_handshake(&s->ssl);
        if (ret == MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED) {
            /* RFC 6347 §4.2.1: the cookie went out; wait for the ClientHello that returns it. */
            mbedtls_ssl_session_reset(&s->ssl);
            mbedtls_ssl_set_cid(&s->ssl, MBEDTLS_SSL_CID_ENABLED, s->cid, CID_LEN);
            mbedtls_ssl_set_client_transport_id(&s->ssl, (const unsigned char *) &s->peer, s->peer_len);
            return;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            return;
        }
        if (ret != 0) {
            addr_str(&s->peer, peer, sizeof peer);
            printf("node=%u event=handshake_failed peer=%s err=%s\n", node_id, peer, err_str(ret));
            session_free(s, "handshake");
            return;
        }
        s->open = 1;
        addr_str(&s->peer, peer, sizeof peer);
        printf("node=%u event=handshake cid=%s peer=%s\n", node_id, cid, peer);
    }
    for (;;) {
        ret = mbedtls_ssl_read(&s->ssl, buf + 16, sizeof buf - 16);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            return;
        }
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == 0) {
            session_free(s, "close_notify");
            return;
        }
        if (ret < 0) {
            printf("node=%u event=read_error cid=%s err=%s\n", node_id, cid, err_str(ret));
            session_free(s, "read_error");
            return;
        }
        /* The record authenticated: if it came from a new address, the peer moved. */
        if (!same_addr(&s->from, &s->peer)) {
            addr_str(&s->peer, peer, sizeof peer);
            addr_str(&s->from, from, sizeof from);
            printf("node=%u event=moved cid=%s from=%s to=%s\n", node_id, cid, peer, from);
            s->peer = s->from;
            s->peer_len = s->from_len;
        }
        s->records++;
        addr_str(&s->peer, peer, sizeof peer);
        printf("node=%u event=data cid=%s peer=%s bytes=%d\n", node_id, cid, peer, ret);
        int prefix = snprintf((char *) buf, 16, "n%u:", node_id);
        memmove(buf + prefix, buf + 16, (size_t) ret);
        ret = mbedtls_ssl_write(&s->ssl, buf, (size_t) ret + (size_t) prefix);
        if (ret < 0) {
            printf("node=%u event=write_error cid=%s err=%s\n", node_id, cid, err_str(ret));
        }
    }
}

static int server(int argc, char **argv)
{
    node_id = (unsigned) atoi(arg(argc, argv, "node", "1"));
    int port = atoi(arg(argc, argv, "port", "5684"));
    int seconds = atoi(arg(argc, argv, "seconds", "0"));
    if (node_id == 0 || node_id > 255) {
        fprintf(stderr, "node must be 1..255\n");
        return 2;
    }
    if (setup_common(argc, argv, MBEDTLS_SSL_IS_SERVER) != 0) {
        return 1;
    }
    mbedtls_ssl_cookie_init(&cookies);
    if (mbedtls_ssl_cookie_setup(&cookies, mbedtls_ctr_drbg_random, &drbg) != 0) {
        return 1;
    }
    mbedtls_ssl_conf_dtls_cookies(&conf, mbedtls_ssl_cookie_write, mbedtls_ssl_cookie_check, &cookies);

    server_socket = socket(AF_INET6, SOCK_DGRAM, 0);
    int off = 0, on = 1;
    setsockopt(server_socket, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    setsockopt(server_socket, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in6 bind_addr = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port),
                                      .sin6_addr = IN6ADDR_ANY_INIT };
    if (bind(server_socket, (struct sockaddr *) &bind_addr, sizeof bind_addr) != 0) {
        perror("bind");
        return 1;
    }
    printf("node=%u event=listening port=%d\n", node_id, port);
    fflush(stdout);
    time_t end = seconds > 0 ? time(NULL) + seconds : 0;
    while (!stopping && (end == 0 || time(NULL) < end)) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(server_socket, &fds);
        struct timeval tv = { 0, 50000 };
        int ready = select(server_socket + 1, &fds, NULL, NULL, &tv);
        time_t now = time(NULL);
        if (ready > 0) {
            unsigned char d[MAX_DATAGRAM];
            struct sockaddr_storage from;
            socklen_t from_len = sizeof from;
            ssize_t n = recvfrom(server_socket, d, sizeof d, 0, (struct sockaddr *) &from, &from_len);
            if (n <= 0) {
                continue;
            }
            struct session *s = NULL;
            if (d[0] == MBEDTLS_SSL_MSG_CID && n >= 11 + CID_LEN) {
                /* RFC 9146 §4: the CID sits after type, version, epoch and sequence number. */
                for (int i = 0; i < MAX_SESSIONS && s == NULL; i++) {
                    if (sessions[i].used && memcmp(sessions[i].cid, d + 11, CID_LEN) == 0) {
                        s = &sessions[i];
                    }
                }
                if (s == NULL) {
                    char cid[2 * CID_LEN + 1], peer[64];
                    hex(d + 11, CID_LEN, cid);
                    addr_str(&from, peer, sizeof peer);
                    printf("node=%u event=%s cid=%s peer=%s\n", node_id,
                           d[11] == node_id ? "unknown_cid" : "foreign_cid", cid, peer);
                    fflush(stdout);
                    continue;
                }
            } else {
                for (int i = 0; i < MAX_SESSIONS && s == NULL; i++) {
                    if (sessions[i].used && same_addr(&sessions[i].peer, &from)) {
                        s = &sessions[i];
                    }
                }
                if (s == NULL && d[0] == MBEDTLS_SSL_MSG_HANDSHAKE) {
                    s = session_new(&from, from_len);
                }
                if (s == NULL) {
                    continue;
                }
            }
            memcpy(s->inbox, d, (size_t) n);
            s->inbox_len = (size_t) n;
            s->from = from;
            s->from_len = from_len;
            s->last_seen = now;
            session_step(s);
        }
        /* Retransmission timers of handshakes in flight; forget sessions idle for 5 minutes. */
        for (int i = 0; i < MAX_SESSIONS; i++) {
            struct session *s = &sessions[i];
            if (!s->used) {
                continue;
            }
            if (!s->open && mbedtls_timing_get_delay(&s->timer) == 2) {
                session_step(s);
            } else if (now - s->last_seen > 300) {
                session_free(s, "idle");
            }
        }
        fflush(stdout);
    }
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (sessions[i].used) {
            session_free(&sessions[i], "stop");
        }
    }
    printf("node=%u event=stopped\n", node_id);
    return 0;
}

/* ---------------------------------------------------------------- client */

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stopping) {
    }
}

static int client(int argc, char **argv)
{
    const char *host = arg(argc, argv, "host", NULL);
    const char *port = arg(argc, argv, "port", "5684");
    const char *name = arg(argc, argv, "name", "c");
    int count = atoi(arg(argc, argv, "count", "5"));
    int size = atoi(arg(argc, argv, "size", "64"));
    int interval = atoi(arg(argc, argv, "interval_ms", "100"));
    int pause_after = atoi(arg(argc, argv, "pause_after", "0"));
    int pause_ms = atoi(arg(argc, argv, "pause_ms", "0"));
    int timeout = atoi(arg(argc, argv, "timeout_ms", "1000"));
    int tries = atoi(arg(argc, argv, "tries", "4"));
    if (host == NULL || size < 16 || size > 1200) {
        fprintf(stderr, "client needs host=IP, 16 <= size <= 1200\n");
        return 2;
    }
    if (setup_common(argc, argv, MBEDTLS_SSL_IS_CLIENT) != 0) {
        return 1;
    }
    mbedtls_ssl_conf_read_timeout(&conf, (uint32_t) timeout);
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_timing_delay_context timer;
    mbedtls_net_init(&net);
    mbedtls_ssl_init(&ssl);
    int ret = mbedtls_net_connect(&net, host, port, MBEDTLS_NET_PROTO_UDP);
    if (ret != 0) {
        printf("client=%s event=error what=connect err=%s\n", name, err_str(ret));
        return 1;
    }
    if ((ret = mbedtls_ssl_setup(&ssl, &conf)) != 0
        || (ret = mbedtls_ssl_set_cid(&ssl, MBEDTLS_SSL_CID_ENABLED, NULL, 0)) != 0) {
        printf("client=%s event=error what=setup err=%s\n", name, err_str(ret));
        return 1;
    }
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, mbedtls_net_recv_timeout);
    mbedtls_ssl_set_timer_cb(&ssl, &timer, mbedtls_timing_set_delay, mbedtls_timing_get_delay);
    while ((ret = mbedtls_ssl_handshake(&ssl)) != 0) {
        if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) {
            printf("client=%s event=handshake_failed err=%s\n", name, err_str(ret));
            return 1;
        }
    }
    unsigned char peer_cid[MBEDTLS_SSL_CID_OUT_LEN_MAX];
    size_t peer_cid_len = 0;
    int cid_enabled = 0;
    mbedtls_ssl_get_peer_cid(&ssl, &cid_enabled, peer_cid, &peer_cid_len);
    char cid[2 * MBEDTLS_SSL_CID_OUT_LEN_MAX + 1];
    hex(peer_cid, peer_cid_len, cid);
    printf("client=%s event=handshake cid=%s cid_enabled=%d\n", name, cid, cid_enabled);
    fflush(stdout);
    if (!cid_enabled || peer_cid_len == 0) {
        return 1;
    }

    int echoed = 0;
    unsigned nodes_seen = 0; /* bit mask of node ids < 32 that answered */
    for (int seq = 1; seq <= count && !stopping; seq++) {
        char msg[1300];
        int len = snprintf(msg, sizeof msg, "%s seq=%d ", name, seq);
        memset(msg + len, 'x', (size_t) (size - len));
        len = size;
        int ok = 0;
        for (int attempt = 1; attempt <= tries && !ok && !stopping; attempt++) {
            ret = mbedtls_ssl_write(&ssl, (unsigned char *) msg, (size_t) len);
            if (ret < 0) {
                printf("client=%s event=write_error seq=%d err=%s\n", name, seq, err_str(ret));
                break;
            }
            for (;;) {
                unsigned char reply[1400];
                ret = mbedtls_ssl_read(&ssl, reply, sizeof reply - 1);
                if (ret == MBEDTLS_ERR_SSL_TIMEOUT) {
                    printf("client=%s event=timeout seq=%d attempt=%d\n", name, seq, attempt);
                    break;
                }
                if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
                    continue;
                }
                if (ret <= 0) {
                    printf("client=%s event=read_error seq=%d err=%s\n", name, seq, err_str(ret));
                    goto done;
                }
                reply[ret] = 0;
                unsigned node = 0;
                char *colon = memchr(reply, ':', (size_t) ret);
                if (reply[0] == 'n' && colon != NULL && ret - (colon + 1 - (char *) reply) == len
                    && memcmp(colon + 1, msg, (size_t) len) == 0) {
                    node = (unsigned) atoi((char *) reply + 1);
                    printf("client=%s event=echo seq=%d node=%u bytes=%d\n", name, seq, node, len);
                    if (node < 32) {
                        nodes_seen |= 1u << node;
                    }
                    ok = 1;
                    break;
                }
                /* A late echo of an earlier retry: read on. */
            }
        }
        if (!ok) {
            printf("client=%s event=lost seq=%d\n", name, seq);
        } else {
            echoed++;
        }
        fflush(stdout);
        if (seq == pause_after && pause_ms > 0) {
            printf("client=%s event=pause ms=%d\n", name, pause_ms);
            fflush(stdout);
            sleep_ms(pause_ms);
            printf("client=%s event=resume\n", name);
            fflush(stdout);
        } else if (seq < count) {
            sleep_ms(interval);
        }
    }
done:
    mbedtls_ssl_close_notify(&ssl);
    int distinct = 0;
    for (int i = 0; i < 32; i++) {
        distinct += (nodes_seen >> i) & 1;
    }
    printf("client=%s event=result cid=%s sent=%d echoed=%d nodes=%d %s\n", name, cid, count,
           echoed, distinct, echoed == count && distinct == 1 ? "ok" : "FAILED");
    mbedtls_ssl_free(&ssl);
    mbedtls_net_free(&net);
    return echoed == count && distinct == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "server") == 0) {
        return server(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "client") == 0) {
        return client(argc, argv);
    }
    fprintf(stderr, "usage: %s server node=N [port=P] [psk=HEX] | client host=IP [options]\n", argv[0]);
    return 2;
}
