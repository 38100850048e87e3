/*
 * cidlb's C shim over DPDK's static-inline fast path.
 *
 * DPDK implements its per-packet functions (rx/tx burst, mbuf alloc/free, mtod, ...) as
 * `static inline` in headers, which bindgen cannot bind. Each `cidlb_*` function here is a
 * plain exported wrapper around exactly one of them, compiled with DPDK's own pkg-config
 * cflags so the inlined code is what the DPDK build intended.
 */
#ifndef CIDLB_DPDK_SHIM_H
#define CIDLB_DPDK_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

uint16_t cidlb_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t cidlb_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

struct rte_mbuf *cidlb_pktmbuf_alloc(struct rte_mempool *mp);
/* 0 on success (all `count` allocated), negative errno otherwise (none allocated). */
int cidlb_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int count);
void cidlb_pktmbuf_free(struct rte_mbuf *m);
void cidlb_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count);

/* rte_pktmbuf_mtod(m, uint8_t *): the first data byte of the first segment. */
uint8_t *cidlb_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t cidlb_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t cidlb_pktmbuf_pkt_len(const struct rte_mbuf *m);
void cidlb_pktmbuf_set_data_len(struct rte_mbuf *m, uint16_t len);
void cidlb_pktmbuf_set_pkt_len(struct rte_mbuf *m, uint32_t len);
uint16_t cidlb_pktmbuf_nb_segs(const struct rte_mbuf *m);
uint16_t cidlb_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t cidlb_pktmbuf_tailroom(const struct rte_mbuf *m);
/* NULL when there is not enough room / data; the mbuf is then unchanged. */
char *cidlb_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *cidlb_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *cidlb_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
/* 0 on success, -1 when the last segment is shorter than `len`. */
int cidlb_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
/* 0 when the mbuf is (now) one segment, -1 when it did not fit in the first. */
int cidlb_pktmbuf_linearize(struct rte_mbuf *m);

int cidlb_errno(void);
unsigned int cidlb_lcore_id(void);
uint64_t cidlb_rdtsc(void);
uint64_t cidlb_get_tsc_hz(void);
void cidlb_prefetch0(const void *p);

/* Send DPDK's log to stderr (Linux EAL writes to stdout by default), keeping stdout for
 * cidlb's own output. Call before rte_eal_init. 0 on success. */
int cidlb_log_to_stderr(void);

/* RSS hash types over IPv4/IPv6 source and destination addresses only (no L4 ports), so
 * fragments and every flow of a source land on one queue. DPDK builds these with
 * RTE_BIT64(), a function-like macro bindgen cannot evaluate. */
uint64_t cidlb_rss_l3_hash_functions(void);

#endif
