//! `cidlb run` (in progress).
use crate::RunArgs;
pub fn run(_args: &RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("run: in progress")
}
