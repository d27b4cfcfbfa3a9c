//! Where a report goes, chosen here and only here: standard output (a terminal refresh redrawn in one
//! write), or the file of --output-file, written whole or not at all through
//! [`crate::dest::write_whole`]: an anonymous file in the same directory linked in over the old one, so
//! that a reader (node_exporter's textfile collector, a script) sees the old report or the new one,
//! never half of one, and a failed write leaves the old file and no temporary behind.

use std::io::{self, BufWriter, Write};

use super::args::Plan;

/// Permission bits of the file --output-file creates (less the umask): readable by a collector that
/// runs as another user.
const MODE: u32 = 0o644;

/// Writes one report: `fill` writes it to the destination the plan names. `in_place` redraws a
/// terminal (clear the screen, then the report in one write). Errors writing the file name it:
/// `error writing 'FILE': reason`.
pub(crate) fn write(
    plan: &Plan,
    in_place: bool,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    if let Some(path) = &plan.output {
        return crate::dest::write_whole(path, MODE, fill).map_err(|e| {
            let e = crate::error::Error::io(crate::error::Op::Write, path, e);
            anyhow::anyhow!(crate::cli::messages::message(&e))
        });
    }
    let stdout = io::stdout();
    if in_place {
        let mut screen = b"\x1b[H\x1b[2J".to_vec();
        fill(&mut screen)?;
        let mut out = stdout.lock();
        out.write_all(&screen)?;
        out.flush()?;
        return Ok(());
    }
    let mut out = BufWriter::new(stdout.lock());
    fill(&mut out)?;
    out.flush()?;
    Ok(())
}

/// Whether the report goes to standard output (and so may be drawn for a terminal).
pub(crate) fn to_stdout(plan: &Plan) -> bool {
    plan.output.is_none()
}
