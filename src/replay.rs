use crate::ReplayArgs;
pub fn replay(_args: &ReplayArgs) -> anyhow::Result<()> {
    anyhow::bail!("replay: in progress")
}
