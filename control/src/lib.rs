//! cidlb control plane. (in progress)
#![forbid(unsafe_code)]
