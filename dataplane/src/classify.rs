//! Classification: one parsed packet and the current snapshot in, a [`Verdict`] out.
//!
//! Precedence (DESIGN.md "The data path"):
//! 1. traffic for the balancer itself: ARP, neighbour discovery, ICMP echo to its addresses
//!    and VIPs, replies to its health probes;
//! 2. replies from nodes (source = node address and service port, NAT mode): reverse NAT;
//! 3. traffic to a VIP, by the service's `balance`:
//!    - `dtls-cid`: the first `tls12_cid` record of the datagram routes by its CID's node id
//!      bytes, statelessly (RFC 9146 §4); anything else takes the session path;
//!    - `flow-label`: a non-zero label makes `<source, destination, label>` the key (RFC 6437
//!      §5, RFC 7098 §3), zero uses the 5-tuple;
//!    - `five-tuple`: the session path;
//!    - session path: lookup, else Maglev over healthy nodes, then insert;
//! 4. anything else is dropped with a reason.
#![forbid(unsafe_code)]

use crate::counters::{DropReason, WorkerCounters};
use crate::session::{FlowKey, InsertOutcome, SessionTable, SessionValue};
use crate::snapshot::{Address, NodeState, ServiceInfo, Snapshot};
use crate::wire::{self, Parsed, L3};
use cidlb_config::{Balance, LabelPolicy, UnknownCid};

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// What the balancer answers itself, in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    EchoReply,
    /// Copy to the control thread (probe replies, ARP/ND it learns neighbours from).
    ToControl,
    /// Answer in place and also copy to the control thread (an ARP request or neighbour
    /// solicitation teaches us the sender's MAC).
    AnswerAndLearn(Answer),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    ArpReply,
    NeighborAdvertisement,
}

/// How a forwarded packet found its node (for counters and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// By the CID's node id, statelessly.
    Cid,
    /// Existing session.
    SessionHit,
    /// New session chosen by Maglev.
    SessionNew,
    /// Flow-label flow whose label changed: kept on its node.
    Relabel,
    /// A first ClientHello (no cookie yet) by Maglev, no session: see
    /// [`Classifier::step_for_service`].
    Hello,
    /// Non-first fragment through the fragment table.
    Fragment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// To node `node` (index into `Snapshot::nodes`) for service `service`.
    Forward { service: u16, node: u16, route: Route },
    /// A node's reply: source becomes the service's VIP and port.
    ReverseNat { service: u16 },
    /// An ICMP error about one of the service's flows: to the node serving it, or (unknown)
    /// to every node of the service. `vip_is_source`: the quoted packet came from the VIP.
    IcmpError { service: u16, node: Option<u16>, vip_is_source: bool },
    Local(Local),
    Drop(DropReason),
}

/// The stateless first half of a classification ([`Classifier::lead`]), computed for a whole
/// burst before any of it is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lead {
    /// Not the common case: [`Classifier::classify`] decides the packet in full.
    General,
    /// A packet to a VIP whose service rule is known.
    Known(Step),
    /// Decided by the worker's CID lane (`Worker::prepare`) from the bytes alone, with no
    /// [`Parsed`]: an untagged IPv4 frame without options carrying a whole UDP datagram that
    /// opens with a DTLS 1.2 `tls12_cid` record for a `dtls-cid` service, whose CID names a
    /// node that is not down. The verdict is the general path's for it, `Forward` by
    /// [`Route::Cid`]; `Worker::finish` carries it out.
    Cid { service: u16, node: u16 },
}

/// Where a packet's service rule leads, before the session table is consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Decided without state: a CID route, or a drop (no service, malformed DTLS, unknown CID).
    Decided(Verdict),
    /// The 5-tuple session path of service `service`; `hash` is the table's hash of the key.
    Session { service: u16, hash: u64 },
    /// The flow-label path; `hash` is the table's hash of the `<source, destination, label>` key.
    Label { service: u16, hash: u64 },
}

impl Lead {
    /// The session-table hash of the key this lead will look up, if it goes to the table.
    #[inline]
    pub(crate) fn session_hash(&self) -> Option<u64> {
        match *self {
            Lead::Known(Step::Session { hash, .. } | Step::Label { hash, .. }) => Some(hash),
            _ => None,
        }
    }
}

/// Per-worker classification state: the session and fragment tables.
pub struct Classifier {
    pub sessions: SessionTable,
    pub fragments: SessionTable,
}

impl Classifier {
    pub fn new(sessions: SessionTable, fragments: SessionTable) -> Self {
        Classifier { sessions, fragments }
    }

    /// The first, stateless half of the common case with the fewest steps: a whole UDP/TCP
    /// packet (not a fragment) to a VIP. Such a packet is no neighbour discovery, echo or ICMP
    /// error, so the checks for those are skipped and it goes straight to its service's rule
    /// ([`step_for_service`](Self::step_for_service), which [`classify`](Self::classify) uses
    /// too). [`Lead::General`] for every other packet, which `classify` then decides in full.
    ///
    /// Reads only the snapshot and the packet, never the tables, so the burst loop runs it
    /// over a whole burst first (then prefetches the session buckets the leads name) and
    /// [`follow`](Self::follow)s the leads in order after. A differential test holds
    /// `lead` + `follow` and `classify` to the same verdict.
    #[inline]
    pub fn lead(&self, snapshot: &Snapshot, parsed: &Parsed, frame: &[u8]) -> Lead {
        if !parsed.l4_present || parsed.frag.is_some() || !matches!(parsed.proto, PROTO_UDP | PROTO_TCP) || parsed.l3 == L3::Arp {
            return Lead::General;
        }
        let destination = Address { bytes: parsed.dst, v6: parsed.l3 == L3::Ipv6 };
        let Some(services) = snapshot.vips.get(&destination) else {
            return Lead::General;
        };
        // An own address that is also a VIP is the balancer's (precedence 1 before 3).
        if snapshot.vip_shadowed && snapshot.own_port(&destination).is_some() {
            return Lead::General;
        }
        let Some(service_index) = snapshot.find_service(services, parsed.proto, parsed.dport) else {
            return Lead::Known(Step::Decided(Verdict::Drop(DropReason::NoService)));
        };
        let service = &snapshot.services[service_index as usize];
        Lead::Known(self.step_for_service(snapshot, parsed, frame, service_index, service))
    }

    /// The second, stateful half: the verdict of a lead other than [`Lead::General`] (the
    /// session lookup, Maglev on a miss, the insert). `None` for `General`.
    #[inline]
    pub fn follow(&mut self, snapshot: &Snapshot, now: u64, parsed: &Parsed, lead: Lead, counters: &WorkerCounters) -> Option<Verdict> {
        match lead {
            Lead::General => None,
            Lead::Known(step) => Some(self.take(snapshot, now, parsed, step, counters)),
            Lead::Cid { service, node } => Some(Verdict::Forward { service, node, route: Route::Cid }),
        }
    }

    /// The verdict of a packet's service rule, the table work included.
    #[inline]
    fn take(&mut self, snapshot: &Snapshot, now: u64, parsed: &Parsed, step: Step, counters: &WorkerCounters) -> Verdict {
        match step {
            Step::Decided(verdict) => verdict,
            Step::Session { service, hash } => self.by_session(snapshot, now, parsed, service, &snapshot.services[service as usize], hash, counters),
            Step::Label { service, hash } => self.by_label(snapshot, now, parsed, service, &snapshot.services[service as usize], hash, counters),
        }
    }

    /// Start loading the session bucket a lead will look up.
    #[inline]
    pub fn prefetch(&self, lead: &Lead) {
        if let Some(hash) = lead.session_hash() {
            self.sessions.prefetch(hash);
        }
    }

    /// Once [`prefetch`](Self::prefetch)'s lines have had time to arrive (the burst loop's
    /// second look at the burst): start loading the entry line the lead's lookup or insert will
    /// touch beyond them ([`SessionTable::prefetch_target`]).
    /// When the lookup is sure to miss, also the Maglev slot the new session's pick reads (a
    /// spoofed new-flow flood: the table's lines are prefetched, the slot was not, and mixed
    /// with other traffic it is out of the near caches).
    #[inline]
    pub fn prefetch_target(&self, snapshot: &Snapshot, lead: &Lead, now: u64) {
        match *lead {
            Lead::Known(Step::Session { service, hash }) => {
                let sure_miss = self.sessions.prefetch_target(hash, now);
                if let (true, Some(service)) = (sure_miss, snapshot.services.get(service as usize)) {
                    service.prefetch_pick(hash);
                }
            }
            Lead::Known(Step::Label { hash, .. }) => {
                self.sessions.prefetch_target(hash, now);
            }
            _ => {}
        }
    }

    /// The service's rule (`balance`) for a packet of it, as far as it goes without state: one
    /// place for both classifiers.
    ///
    /// - `dtls-cid`: the first `tls12_cid` record of the datagram (bounded walk) routes by its
    ///   CID (RFC 9146 §4), decided here. A client's first ClientHello (no cookie) goes by
    ///   Maglev over its 5-tuple without a session, as a server answers it with a
    ///   HelloVerifyRequest and keeps no state (RFC 6347 §4.2.1; Katran likewise skips its LRU
    ///   for a TCP SYN): a spoofed-source flood of them never touches the session table, and the
    ///   client's next flight, which does create the session, hashes to the same node while
    ///   the node set stays. Anything else without a CID takes the session path;
    /// - `flow-label` with a non-zero label (and `label_policy` not `ignore`): the label path;
    /// - otherwise the 5-tuple session path.
    #[inline]
    fn step_for_service(&self, snapshot: &Snapshot, parsed: &Parsed, frame: &[u8], service_index: u16, service: &ServiceInfo) -> Step {
        let tuple_hash = || self.sessions.hash(&five_tuple(parsed));
        let session = || Step::Session { service: service_index, hash: tuple_hash() };
        match service.balance {
            Balance::DtlsCid => {
                let payload = udp_payload(parsed, frame);
                match wire::dtls::first_cid(payload, service.cid_length as usize) {
                    Ok(Some(cid)) => match service.node_for_cid(cid) {
                        // A draining node keeps its CID traffic: existing sessions go on.
                        Some(node) if snapshot.nodes[node as usize].state != NodeState::Down => {
                            Step::Decided(Verdict::Forward { service: service_index, node, route: Route::Cid })
                        }
                        _ => match service.unknown_cid {
                            UnknownCid::Drop => Step::Decided(Verdict::Drop(DropReason::UnknownCid)),
                            UnknownCid::Session => session(),
                        },
                    },
                    Err(reason) => Step::Decided(Verdict::Drop(reason)),
                    Ok(None) if wire::dtls::is_first_client_hello(payload) => {
                        Step::Decided(match service.pick(tuple_hash()) {
                            Some(node) => Verdict::Forward { service: service_index, node, route: Route::Hello },
                            None => Verdict::Drop(DropReason::NoHealthyNode),
                        })
                    }
                    Ok(None) => session(),
                }
            }
            Balance::FlowLabel if parsed.flow_label != 0 && service.label_policy != LabelPolicy::Ignore => Step::Label {
                service: service_index,
                hash: self.sessions.hash(&FlowKey::label(parsed.src, parsed.dst, parsed.flow_label)),
            },
            Balance::FlowLabel | Balance::FiveTuple => session(),
        }
    }

    pub fn classify(
        &mut self,
        snapshot: &Snapshot,
        now: u64,
        in_port: u16,
        parsed: &Parsed,
        frame: &[u8],
        counters: &WorkerCounters,
    ) -> Verdict {
        match parsed.l3 {
            L3::Arp => classify_arp(snapshot, in_port, parsed, frame),
            L3::Ipv4 | L3::Ipv6 => self.classify_ip(snapshot, now, in_port, parsed, frame, counters),
        }
    }

    fn classify_ip(
        &mut self,
        snapshot: &Snapshot,
        now: u64,
        in_port: u16,
        parsed: &Parsed,
        frame: &[u8],
        counters: &WorkerCounters,
    ) -> Verdict {
        let v6 = matches!(parsed.l3, L3::Ipv6);
        let destination = Address { bytes: parsed.dst, v6 };
        let source = Address { bytes: parsed.src, v6 };

        // 1. Neighbour discovery goes to solicited-node multicast, so look at it first.
        if v6 && parsed.proto == PROTO_ICMPV6 && parsed.l4_present {
            if let Some(verdict) = classify_icmpv6_nd(snapshot, in_port, parsed, frame) {
                return verdict;
            }
        }
        // 1. For the balancer's own addresses.
        if snapshot.own_port(&destination).is_some() {
            return classify_local(parsed, frame);
        }
        // 3. To a VIP (checked before replies: a reply is never addressed to a VIP).
        if let Some(services) = snapshot.vips.get(&destination) {
            if is_echo_request(parsed, frame) {
                return Verdict::Local(Local::EchoReply);
            }
            if wire::is_icmp_error(parsed, frame) {
                return self.classify_icmp_error(snapshot, now, parsed, frame, destination);
            }
            return self.classify_vip(snapshot, now, parsed, frame, services, counters);
        }
        // 2. A node's reply, stateless reverse NAT.
        if parsed.l4_present {
            if let Some(&service) = snapshot.replies.get(&(source, parsed.sport, parsed.proto)) {
                return Verdict::ReverseNat { service };
            }
        } else if parsed.frag.is_some() {
            // A non-first fragment of a node's reply has no ports: find its first fragment.
            let key = fragment_key(parsed);
            if let Some(value) = self.fragments.lookup(&key, now) {
                if value.aux & AUX_REPLY != 0 {
                    return Verdict::ReverseNat { service: value.node_id as u16 };
                }
            }
        }
        Verdict::Drop(DropReason::NotForUs)
    }

    fn classify_vip(
        &mut self,
        snapshot: &Snapshot,
        now: u64,
        parsed: &Parsed,
        frame: &[u8],
        services: &[u16],
        counters: &WorkerCounters,
    ) -> Verdict {
        // A non-first fragment (no ports): its first fragment decided, or a non-zero flow
        // label does (every fragment of a labelled flow carries the label, RFC 6437 §3).
        if !parsed.l4_present && (parsed.flow_label == 0 || parsed.frag.is_none()) {
            return self.follow_fragment(snapshot, now, parsed);
        }
        let found = if parsed.l4_present {
            snapshot.find_service(services, parsed.proto, parsed.dport)
        } else {
            snapshot.find_label_service(services, parsed.proto)
        };
        let Some(service_index) = found else {
            return if parsed.l4_present {
                Verdict::Drop(DropReason::NoService)
            } else {
                self.follow_fragment(snapshot, now, parsed)
            };
        };
        let service = &snapshot.services[service_index as usize];
        // Labels not trusted (`label_policy`): fragments go by the fragment table.
        let trust_label = service.label_policy == LabelPolicy::Trust;
        if !parsed.l4_present && !trust_label {
            return self.follow_fragment(snapshot, now, parsed);
        }
        let step = self.step_for_service(snapshot, parsed, frame, service_index, service);
        let verdict = self.take(snapshot, now, parsed, step, counters);
        // The first fragment of an unlabelled datagram leaves a trail for the others.
        if let Verdict::Forward { node, .. } = verdict {
            if let Some(frag) = parsed.frag {
                if frag.offset == 0 && frag.more && (parsed.flow_label == 0 || !trust_label || !matches!(service.balance, Balance::FlowLabel)) {
                    let value = SessionValue { node_id: snapshot.nodes[node as usize].id, aux: service_index as u32 };
                    self.fragments.insert(fragment_key(parsed), value, now);
                }
            }
        }
        verdict
    }

    /// An ICMP error to a VIP: find the flow it is about. The quoted packet is usually a
    /// node's reply (source = VIP, RFC 792 "the internet header plus the first 64 bits"), so
    /// the client -> VIP 5-tuple is the quote reversed; its session names the node. A quoted
    /// packet sent to the VIP may carry the CID that names it. Otherwise every node gets it.
    fn classify_icmp_error(&mut self, snapshot: &Snapshot, now: u64, parsed: &Parsed, frame: &[u8], vip: Address) -> Verdict {
        let Some(quoted) = wire::embedded(parsed, frame) else {
            return Verdict::Drop(DropReason::IcmpIgnored);
        };
        let (client, client_port, service_port, vip_is_source) = if quoted.src == vip.bytes {
            (quoted.dst, quoted.dport, quoted.sport, true)
        } else if quoted.dst == vip.bytes {
            (quoted.src, quoted.sport, quoted.dport, false)
        } else {
            return Verdict::Drop(DropReason::IcmpIgnored);
        };
        let Some(service_index) = snapshot.service_for(&vip, quoted.proto, service_port) else {
            return Verdict::Drop(DropReason::NoService);
        };
        let service = &snapshot.services[service_index as usize];
        let mut node = None;
        if !vip_is_source && service.balance == Balance::DtlsCid && quoted.proto == PROTO_UDP {
            let payload = frame.get(quoted.l4_offset + 8..parsed.ip_end().min(frame.len())).unwrap_or(&[]);
            if let Ok(Some(cid)) = wire::dtls::first_cid(payload, service.cid_length as usize) {
                node = service.node_for_cid(cid).filter(|&n| snapshot.nodes[n as usize].state != NodeState::Down);
            }
        }
        if node.is_none() && matches!(quoted.proto, PROTO_UDP | PROTO_TCP) {
            let key = if vip.v6 {
                FlowKey::five_tuple_v6(client, vip.bytes, client_port, service_port, quoted.proto)
            } else {
                FlowKey::five_tuple_v4(v4(&client), v4(&vip.bytes), client_port, service_port, quoted.proto)
            };
            // A lookup refreshes the session: an error is a sign of life of the flow.
            node = self.sessions.lookup(&key, now).and_then(|value| usable(snapshot, value.node_id));
        }
        Verdict::IcmpError { service: service_index, node, vip_is_source }
    }

    /// `flow-label` with a non-zero label: `<source, destination, label>` is the key. The
    /// 5-tuple is kept beside it so a flow that is relabelled mid-connection (Linux does so
    /// after a TCP retransmission timeout) stays on its node (RFC 6437 §6 on label changes).
    #[allow(clippy::too_many_arguments)]
    fn by_label(
        &mut self,
        snapshot: &Snapshot,
        now: u64,
        parsed: &Parsed,
        service_index: u16,
        service: &ServiceInfo,
        label_hash: u64,
        counters: &WorkerCounters,
    ) -> Verdict {
        let label_key = FlowKey::label(parsed.src, parsed.dst, parsed.flow_label);
        let tuple_key = parsed.l4_present.then(|| five_tuple(parsed));
        self.by_label_keys(snapshot, now, label_key, tuple_key.as_ref(), service_index, service, label_hash, counters)
    }

    /// [`by_label`](Self::by_label) of the packet's `<source, destination, label>` key and its
    /// 5-tuple, when it has its ports (the worker's session lane reads both from the frame's
    /// bytes). The 5-tuple comes by reference: an `Option<FlowKey>` made of a key just built
    /// was a copy of its 40 bytes whose 16-byte loads read words stored separately a few
    /// instructions before, a failed store-to-load forward on every `flow-label` packet (~27 %
    /// of `finish_ipv6`'s samples; taking it by reference saved ~19 cycles a packet: the tuning
    /// log, twenty-third round).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn by_label_keys(
        &mut self,
        snapshot: &Snapshot,
        now: u64,
        label_key: FlowKey,
        tuple_key: Option<&FlowKey>,
        service_index: u16,
        service: &ServiceInfo,
        label_hash: u64,
        counters: &WorkerCounters,
    ) -> Verdict {
        let now_s = (now / 1_000_000_000) as u32;
        let half_timeout_s = (snapshot.session_timeout_ns / 2_000_000_000) as u32;
        if let Some(value) = self.sessions.lookup_hashed(&label_key, label_hash, now) {
            if let Some(node) = usable(snapshot, value.node_id) {
                // `label_policy = "verify"`: a label its 5-tuple does not own is suspect (RFC
                // 6437 §5); that packet takes the 5-tuple path.
                if let (LabelPolicy::Verify, Some(tuple_key)) = (service.label_policy, tuple_key) {
                    if self.sessions.lookup(tuple_key, now).map(|t| t.node_id) != Some(value.node_id) {
                        counters.labels_suspect.inc();
                        let hash = self.sessions.hash(tuple_key);
                        return self.by_suspect_label(snapshot, now, *tuple_key, service_index, service, hash, counters);
                    }
                }
                // Keep the 5-tuple entry alive, refreshing it at most every half timeout.
                if let Some(tuple_key) = tuple_key {
                    if now_s.wrapping_sub(value.aux) >= half_timeout_s.max(1) {
                        self.sessions.insert(*tuple_key, SessionValue { node_id: value.node_id, aux: 0 }, now);
                        self.sessions.insert_hashed(label_key, label_hash, SessionValue { node_id: value.node_id, aux: now_s }, now);
                    }
                }
                counters.session_hits.inc();
                return Verdict::Forward { service: service_index, node, route: Route::SessionHit };
            }
            counters.sessions_rescheduled.inc();
        } else if let Some(tuple_key) = tuple_key {
            if let Some(value) = self.sessions.lookup(tuple_key, now) {
                if let Some(node) = usable(snapshot, value.node_id) {
                    counters.relabels.inc();
                    self.insert(label_key, label_hash, SessionValue { node_id: value.node_id, aux: now_s }, now, counters);
                    return Verdict::Forward { service: service_index, node, route: Route::Relabel };
                }
            }
        }
        let Some(node) = service.pick(label_hash) else {
            return Verdict::Drop(DropReason::NoHealthyNode);
        };
        let node_id = snapshot.nodes[node as usize].id;
        self.insert(label_key, label_hash, SessionValue { node_id, aux: now_s }, now, counters);
        if let Some(tuple_key) = tuple_key {
            // The 5-tuple companion is bookkeeping for relabel detection, not a new session.
            self.sessions.insert(*tuple_key, SessionValue { node_id, aux: 0 }, now);
        }
        Verdict::Forward { service: service_index, node, route: Route::SessionNew }
    }

    /// The 5-tuple session path: lookup, else Maglev, then insert. `hash` is the table's hash
    /// of the packet's 5-tuple key: one keyed hash per packet gives the bucket, its signature
    /// and, on a miss, the Maglev slot (the table's key is the config's `hash_key`, as the
    /// snapshot's).
    #[allow(clippy::too_many_arguments)]
    fn by_session(
        &mut self,
        snapshot: &Snapshot,
        now: u64,
        parsed: &Parsed,
        service_index: u16,
        service: &ServiceInfo,
        hash: u64,
        counters: &WorkerCounters,
    ) -> Verdict {
        self.by_tuple(snapshot, now, five_tuple(parsed), service_index, service, hash, counters)
    }

    /// [`by_tuple`](Self::by_tuple), out of line: the 5-tuple path of a packet whose label is
    /// suspect (`label_policy = "verify"`).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn by_suspect_label(
        &mut self,
        snapshot: &Snapshot,
        now: u64,
        key: FlowKey,
        service_index: u16,
        service: &ServiceInfo,
        hash: u64,
        counters: &WorkerCounters,
    ) -> Verdict {
        self.by_tuple(snapshot, now, key, service_index, service, hash, counters)
    }

    /// [`by_session`](Self::by_session) of the 5-tuple `key` (the worker's session lane reads
    /// it from the frame's bytes).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn by_tuple(
        &mut self,
        snapshot: &Snapshot,
        now: u64,
        key: FlowKey,
        service_index: u16,
        service: &ServiceInfo,
        hash: u64,
        counters: &WorkerCounters,
    ) -> Verdict {
        let vacancy = match self.sessions.probe_hashed(&key, hash, now) {
            Ok(value) => {
                if let Some(node) = usable(snapshot, value.node_id) {
                    counters.session_hits.inc();
                    return Verdict::Forward { service: service_index, node, route: Route::SessionHit };
                }
                // Its node went down or left the config: the session moves (counted).
                counters.sessions_rescheduled.inc();
                None
            }
            Err(vacancy) => Some(vacancy),
        };
        let Some(node) = service.pick(hash) else {
            return Verdict::Drop(DropReason::NoHealthyNode);
        };
        let value = SessionValue { node_id: snapshot.nodes[node as usize].id, aux: 0 };
        let outcome = match vacancy {
            // The miss said where the key stands: no second search of the bucket.
            Some(vacancy) => self.sessions.insert_vacant(key, hash, value, now, vacancy),
            None => self.sessions.insert_hashed(key, hash, value, now),
        };
        self.count_insert(outcome, counters);
        Verdict::Forward { service: service_index, node, route: Route::SessionNew }
    }

    fn insert(&mut self, key: FlowKey, hash: u64, value: SessionValue, now: u64, counters: &WorkerCounters) {
        let outcome = self.sessions.insert_hashed(key, hash, value, now);
        self.count_insert(outcome, counters);
    }

    #[inline(always)]
    fn count_insert(&self, outcome: InsertOutcome, counters: &WorkerCounters) {
        match outcome {
            InsertOutcome::Inserted => {
                counters.sessions_created.inc();
                counters.sessions_live.set(self.sessions.len() as u64);
            }
            InsertOutcome::Evicted => {
                counters.sessions_created.inc();
                counters.sessions_evicted.inc();
            }
            InsertOutcome::ReplacedExpired => {
                counters.sessions_created.inc();
                counters.sessions_expired.inc();
            }
            InsertOutcome::Updated => {}
        }
    }

    /// A non-first fragment: follow its first fragment through the fragment table.
    fn follow_fragment(&mut self, snapshot: &Snapshot, now: u64, parsed: &Parsed) -> Verdict {
        let key = fragment_key(parsed);
        match self.fragments.lookup(&key, now) {
            Some(value) if value.aux & AUX_REPLY == 0 => match snapshot.node_ids.get(value.node_id) {
                Some(node) => Verdict::Forward { service: value.aux as u16, node, route: Route::Fragment },
                None => Verdict::Drop(DropReason::FragmentUnmatched),
            },
            _ => Verdict::Drop(DropReason::FragmentUnmatched),
        }
    }

    /// Remember the first fragment of a node's reply so its other fragments follow.
    pub fn note_reply_fragment(&mut self, parsed: &Parsed, service: u16, now: u64) {
        if let Some(frag) = parsed.frag {
            if frag.offset == 0 && frag.more {
                self.fragments.insert(fragment_key(parsed), SessionValue { node_id: service as u32, aux: AUX_REPLY }, now);
            }
        }
    }

    /// Bounded incremental expiry, once per burst.
    pub fn expire(&mut self, now: u64, budget: usize, counters: &WorkerCounters) {
        let expired = self.sessions.expire_due(now, budget);
        if expired > 0 {
            counters.sessions_expired.add(expired as u64);
            counters.sessions_live.set(self.sessions.len() as u64);
        }
        self.fragments.expire_due(now, budget);
    }
}

/// Fragment-table values of a node's reply carry this flag in `aux` (and the service in
/// `node_id`).
const AUX_REPLY: u32 = 1 << 31;

fn v4(bytes: &[u8; 16]) -> [u8; 4] {
    [bytes[0], bytes[1], bytes[2], bytes[3]]
}

fn fragment_key(parsed: &Parsed) -> FlowKey {
    let id = parsed.frag.map_or(0, |f| f.id);
    match parsed.l3 {
        L3::Ipv6 => FlowKey::fragment_v6(parsed.src, parsed.dst, id, parsed.proto),
        _ => FlowKey::fragment_v4(v4(&parsed.src), v4(&parsed.dst), id as u16, parsed.proto),
    }
}

fn five_tuple(parsed: &Parsed) -> FlowKey {
    match parsed.l3 {
        L3::Ipv6 => FlowKey::five_tuple_v6(parsed.src, parsed.dst, parsed.sport, parsed.dport, parsed.proto),
        _ => FlowKey::five_tuple_v4(v4(&parsed.src), v4(&parsed.dst), parsed.sport, parsed.dport, parsed.proto),
    }
}

/// The node index for a session's node id if that node still exists and is not down. Always
/// inlined: with `by_label_keys` inlined into both of the IPv6 lane's finishes the inliner left
/// it out of line, a call on every session hit (+12 instructions a `flow-label` packet).
#[inline(always)]
fn usable(snapshot: &Snapshot, node_id: u32) -> Option<u16> {
    let index = snapshot.node_ids.get(node_id)?;
    (snapshot.nodes[index as usize].state != NodeState::Down).then_some(index)
}

fn udp_payload<'a>(parsed: &Parsed, frame: &'a [u8]) -> &'a [u8] {
    let start = parsed.l4_offset as usize + 8;
    let end = (parsed.l3_offset as usize + parsed.ip_len as usize).min(frame.len());
    if parsed.proto != PROTO_UDP || !parsed.l4_present || start > end {
        return &[];
    }
    &frame[start..end]
}

fn is_echo_request(parsed: &Parsed, frame: &[u8]) -> bool {
    if !parsed.l4_present || parsed.frag.is_some() {
        return false;
    }
    let icmp_type = frame.get(parsed.l4_offset as usize).copied();
    match parsed.l3 {
        L3::Ipv4 => parsed.proto == PROTO_ICMP && icmp_type == Some(8),
        L3::Ipv6 => parsed.proto == PROTO_ICMPV6 && icmp_type == Some(128),
        L3::Arp => false,
    }
}

/// Traffic to one of the balancer's own addresses: echo is answered, everything else that
/// could be a health-probe reply or neighbour message goes to the control thread.
fn classify_local(parsed: &Parsed, frame: &[u8]) -> Verdict {
    if is_echo_request(parsed, frame) {
        return Verdict::Local(Local::EchoReply);
    }
    match parsed.proto {
        PROTO_UDP | PROTO_ICMP | PROTO_ICMPV6 | PROTO_TCP if parsed.l4_present => Verdict::Local(Local::ToControl),
        PROTO_ICMP | PROTO_ICMPV6 => Verdict::Drop(DropReason::IcmpIgnored),
        _ => Verdict::Drop(DropReason::NotForUs),
    }
}

/// ARP (RFC 826): answer requests for our addresses and VIPs; hand requests and replies to
/// the control thread, which learns neighbours from them.
fn classify_arp(snapshot: &Snapshot, in_port: u16, _parsed: &Parsed, frame: &[u8]) -> Verdict {
    let Some(arp) = wire::arp_summary(frame) else {
        return Verdict::Drop(DropReason::ArpIgnored);
    };
    let target = Address::from_ip(std::net::IpAddr::V4(arp.target_ip));
    let ours = snapshot.ports.get(in_port as usize).is_some_and(|p| p.owns(&target)) || snapshot.is_vip(&target);
    match (arp.is_request, ours) {
        (true, true) => Verdict::Local(Local::AnswerAndLearn(Answer::ArpReply)),
        (false, _) => Verdict::Local(Local::ToControl),
        (true, false) => Verdict::Drop(DropReason::ArpIgnored),
    }
}

/// Neighbour discovery (RFC 4861): solicitations for our addresses and VIPs are answered;
/// advertisements go to the control thread.
fn classify_icmpv6_nd(snapshot: &Snapshot, in_port: u16, parsed: &Parsed, frame: &[u8]) -> Option<Verdict> {
    let icmp_type = *frame.get(parsed.l4_offset as usize)?;
    match icmp_type {
        135 => {
            let target = wire::nd_target(parsed, frame)?;
            let target = Address::from_ip(std::net::IpAddr::V6(target));
            let ours = snapshot.ports.get(in_port as usize).is_some_and(|p| p.owns(&target)) || snapshot.is_vip(&target);
            Some(if ours {
                Verdict::Local(Local::AnswerAndLearn(Answer::NeighborAdvertisement))
            } else {
                Verdict::Drop(DropReason::NdIgnored)
            })
        }
        136 => Some(Verdict::Local(Local::ToControl)),
        // Router solicitations/advertisements and redirects are not for a balancer.
        133 | 134 | 137 => Some(Verdict::Drop(DropReason::NdIgnored)),
        _ => None,
    }
}
