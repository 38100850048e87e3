//! cidlb control plane: stats aggregation and reporting (more in progress: health checks,
//! reload, neighbour resolution, metrics).
#![forbid(unsafe_code)]

pub mod stats;
