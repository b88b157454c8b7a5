//! Service processes the harness starts (Garage, PostgreSQL) that must not
//! outlive the test process, whichever test thread asked for them.

use std::path::Path;
use std::process::{Command, Stdio};

/// Spawns `cmd` from a thread that never ends, with the parent-death signal
/// set, so the child is killed when this test process goes (Linux ties the
/// signal to the spawning thread, hence the thread). Output goes to `log`.
/// Returns the child's pid; it is reaped when it exits, so a pid reused by
/// a relaunch is never mistaken for it.
pub fn for_life(mut cmd: Command, log: &Path) -> u32 {
    use std::os::unix::process::CommandExt;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        // SAFETY: prctl only sets this child's death signal; it touches no
        // memory. It runs after any uid change, which would clear it.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()));
        tx.send(child.id()).unwrap();
        let _ = child.wait();
        loop {
            std::thread::park();
        }
    });
    rx.recv().unwrap()
}
