//! Stateless node selection: keyed hashing and weighted Maglev consistent hashing.
//!
//! Every choice made without state (a new session's node, a flow's session bucket) goes
//! through one [`FlowHasher`] keyed by the cluster-wide `hash_key`, so all balancers of a
//! cluster agree and no outsider can aim flows at one bucket or node.
#![forbid(unsafe_code)]

mod hash;
mod maglev;

pub use hash::{check_cpu, FlowHasher};
pub use maglev::{Maglev, MaglevTable, DEFAULT_TABLE_SIZE};
