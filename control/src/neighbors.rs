//! Neighbour resolution: the control thread learns MACs from the ARP and neighbour-discovery
//! packets the workers hand it, asks for the next hops it still needs (nodes and gateways),
//! and refreshes them. Static `[[neighbor]]` entries always win (Snapshot::build applies them
//! over what is resolved here).

use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// How often an unresolved next hop is asked for again.
pub const RETRY_NS: u64 = 1_000_000_000;
/// How often a resolved next hop is confirmed (RFC 4861 §10 REACHABLE_TIME is 30 s).
pub const REFRESH_NS: u64 = 30_000_000_000;

#[derive(Clone, Copy, Debug)]
struct Entry {
    mac: [u8; 6],
    learned_at: u64,
}

#[derive(Debug, Default)]
pub struct NeighborResolver {
    /// Next hops the snapshot needs, with the port they are on.
    wanted: Vec<(u16, IpAddr)>,
    resolved: FxHashMap<IpAddr, Entry>,
    last_asked: FxHashMap<IpAddr, u64>,
    /// Entries learned from on-link hosts that asked for us, not from our own requests.
    opportunistic: usize,
}

/// Most on-link hosts learned from their own requests (see [`NeighborResolver::learn`]).
pub const MAX_OPPORTUNISTIC: usize = 4096;

impl NeighborResolver {
    pub fn set_wanted(&mut self, wanted: Vec<(u16, IpAddr)>) {
        self.wanted = wanted;
    }

    /// Record `ip` at `mac`. Returns true when this changes what the data path should use.
    ///
    /// Next hops we need (nodes, gateways) are always kept. Others are kept only when
    /// `asked_us` (they sent an ARP request or neighbour solicitation for one of our
    /// addresses or VIPs: an on-link client we will answer) and at most
    /// [`MAX_OPPORTUNISTIC`] of them, so a flood cannot grow the table.
    pub fn learn(&mut self, ip: IpAddr, mac: [u8; 6], now: u64, asked_us: bool) -> bool {
        if mac == [0; 6] || mac[0] & 1 == 1 {
            return false; // never learn a multicast or empty MAC
        }
        let changed = self.resolved.get(&ip).is_none_or(|e| e.mac != mac);
        let wanted = self.wanted.iter().any(|(_, w)| *w == ip);
        if !wanted {
            if !asked_us {
                return false;
            }
            if !self.resolved.contains_key(&ip) && self.opportunistic >= MAX_OPPORTUNISTIC {
                return false;
            }
            if !self.resolved.contains_key(&ip) {
                self.opportunistic += 1;
            }
        }
        self.resolved.insert(ip, Entry { mac, learned_at: now });
        changed
    }

    /// The resolved map the snapshot is built with.
    pub fn resolved(&self) -> FxHashMap<IpAddr, [u8; 6]> {
        self.resolved.iter().map(|(ip, e)| (*ip, e.mac)).collect()
    }

    pub fn is_resolved(&self, ip: &IpAddr) -> bool {
        self.resolved.contains_key(ip)
    }

    /// Next hops to ask for now: unresolved ones every RETRY_NS, resolved ones every
    /// REFRESH_NS. `static_entries` are never asked for.
    pub fn due(&mut self, now: u64, static_entries: &[IpAddr]) -> Vec<(u16, IpAddr)> {
        let mut out = Vec::new();
        for &(port, ip) in &self.wanted {
            if static_entries.contains(&ip) {
                continue;
            }
            let interval = match self.resolved.get(&ip) {
                Some(e) if now.saturating_sub(e.learned_at) < REFRESH_NS => continue,
                Some(_) => RETRY_NS,
                None => RETRY_NS,
            };
            let last = self.last_asked.get(&ip).copied();
            if last.is_none_or(|t| now.saturating_sub(t) >= interval) {
                self.last_asked.insert(ip, now);
                out.push((port, ip));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn learns_only_wanted_unicast_next_hops() {
        let mut r = NeighborResolver::default();
        r.set_wanted(vec![(0, ip("192.0.2.11"))]);
        assert!(r.learn(ip("192.0.2.11"), [2, 0, 0, 0, 0, 0x11], 0, false));
        assert!(!r.learn(ip("192.0.2.11"), [2, 0, 0, 0, 0, 0x11], 1, false), "same MAC: no change");
        assert!(!r.learn(ip("192.0.2.99"), [2, 0, 0, 0, 0, 0x99], 0, false), "not wanted");
        assert!(!r.learn(ip("192.0.2.11"), [1, 0, 0x5e, 0, 0, 1], 0, false), "multicast");
        assert_eq!(r.resolved().len(), 1);
        assert!(r.learn(ip("192.0.2.99"), [2, 0, 0, 0, 0, 0x99], 0, true), "an on-link host that asked for us");
        for i in 0..(MAX_OPPORTUNISTIC as u32 + 10) {
            r.learn(IpAddr::from((0x0a00_0000u32 + i).to_be_bytes()), [2, 0, 0, 0, 1, 1], 0, true);
        }
        assert_eq!(r.resolved().len(), 1 + MAX_OPPORTUNISTIC, "bounded");
    }

    #[test]
    fn asks_unresolved_every_second_and_refreshes_resolved() {
        let mut r = NeighborResolver::default();
        r.set_wanted(vec![(0, ip("192.0.2.11")), (0, ip("192.0.2.254"))]);
        assert_eq!(r.due(0, &[ip("192.0.2.254")]).len(), 1, "static entries are not asked for");
        assert!(r.due(RETRY_NS / 2, &[]).iter().all(|(_, i)| *i == ip("192.0.2.254")));
        assert!(r.due(RETRY_NS / 2 + 1, &[]).is_empty(), "nothing is due twice within a second");
        assert_eq!(r.due(RETRY_NS * 3 / 2, &[]).len(), 2);
        r.learn(ip("192.0.2.11"), [2, 0, 0, 0, 0, 0x11], 2 * RETRY_NS, false);
        assert!(r.due(3 * RETRY_NS, &[]).iter().all(|(_, i)| *i != ip("192.0.2.11")), "resolved: not asked");
        let refresh = r.due(2 * RETRY_NS + REFRESH_NS, &[]);
        assert_eq!(refresh.iter().filter(|(_, i)| *i == ip("192.0.2.11")).count(), 1, "refreshed after REFRESH_NS");
    }
}
