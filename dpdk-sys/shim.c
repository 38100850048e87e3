/* See shim.h: one exported wrapper per static-inline DPDK function. */
#include <rte_config.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_log.h>
#include <stdio.h>

#include "shim.h"

uint16_t cidlb_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t cidlb_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *cidlb_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int cidlb_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void cidlb_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

void cidlb_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count)
{
	rte_pktmbuf_free_bulk(mbufs, count);
}

uint8_t *cidlb_pktmbuf_mtod(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, uint8_t *);
}

uint16_t cidlb_pktmbuf_data_len(const struct rte_mbuf *m)
{
	return rte_pktmbuf_data_len(m);
}

uint32_t cidlb_pktmbuf_pkt_len(const struct rte_mbuf *m)
{
	return rte_pktmbuf_pkt_len(m);
}

void cidlb_pktmbuf_set_data_len(struct rte_mbuf *m, uint16_t len)
{
	m->data_len = len;
}

void cidlb_pktmbuf_set_pkt_len(struct rte_mbuf *m, uint32_t len)
{
	m->pkt_len = len;
}

uint16_t cidlb_pktmbuf_nb_segs(const struct rte_mbuf *m)
{
	return m->nb_segs;
}

uint16_t cidlb_pktmbuf_headroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_headroom(m);
}

uint16_t cidlb_pktmbuf_tailroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_tailroom(m);
}

char *cidlb_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len);
}

char *cidlb_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_append(m, len);
}

char *cidlb_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len);
}

int cidlb_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_trim(m, len);
}

int cidlb_pktmbuf_linearize(struct rte_mbuf *m)
{
	return rte_pktmbuf_linearize(m);
}

int cidlb_errno(void)
{
	return rte_errno;
}

unsigned int cidlb_lcore_id(void)
{
	return rte_lcore_id();
}

uint64_t cidlb_rdtsc(void)
{
	return rte_rdtsc();
}

uint64_t cidlb_get_tsc_hz(void)
{
	return rte_get_tsc_hz();
}

void cidlb_prefetch0(const void *p)
{
	rte_prefetch0(p);
}

uint64_t cidlb_rss_l3_hash_functions(void)
{
	return RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_OTHER |
	       RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_FRAG_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_OTHER |
	       RTE_ETH_RSS_IPV6_EX;
}

int cidlb_log_to_stderr(void)
{
	return rte_openlog_stream(stderr);
}
