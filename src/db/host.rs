//! What this machine does that makes its measurements noisier than a production server's.
//!
//! A virtual machine whose memory balloon reports free pages (virtio-balloon's
//! `VIRTIO_BALLOON_F_REPORTING`) hands memory nobody used for a few seconds back to its host.
//! Writing into such memory again waits for the host to back it: measured on one such machine,
//! an `ALTER TABLE … TYPE` rewrite of 4 M rows (600 MB of WAL) took 3.6–4.0 s when it ran right
//! after another, 4.3–4.6 s after a 15 s pause, and 5.0 s right after the data were seeded; with
//! the reporting turned off the pause cost nothing (3.30–3.35 s). A server on such a machine
//! (local binaries, a container) measures its write-heavy steps with that noise.

use std::path::Path;

/// The feature bit of a virtio-balloon that reports free pages to the host.
const BALLOON_F_REPORTING: usize = 5;

/// The start of the note (estimates carry the rehearsals' note over by it).
pub(crate) const RETURNS_MEMORY: &str = "this machine hands free memory back to its host";

/// A note for the report when the machine under `sys` (normally `/sys`) is a virtual machine
/// whose balloon reports free pages; None otherwise or when it cannot tell.
pub(crate) fn memory_note(sys: &Path) -> Option<String> {
    let devices = std::fs::read_dir(sys.join("bus/virtio/drivers/virtio_balloon")).ok()?;
    let reporting = devices.flatten().any(|device| {
        std::fs::read_to_string(device.path().join("features"))
            .is_ok_and(|bits| bits.as_bytes().get(BALLOON_F_REPORTING) == Some(&b'1'))
    });
    reporting.then(|| {
        format!(
            "{RETURNS_MEMORY} (a virtual machine whose memory balloon reports free pages): \
             memory left unused for a few seconds is slower to write into again, so a \
             write-heavy step can take 10–40 % longer after a pause or right after seeding than \
             when it follows another (measured on such a machine: a 4 M-row rewrite 3.6 s, \
             4.5 s after a 15 s pause); compare durations across runs with that margin"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(features: Option<&str>) -> tempfile::TempDir {
        let sys = tempfile::tempdir().unwrap();
        let driver = sys.path().join("bus/virtio/drivers/virtio_balloon");
        std::fs::create_dir_all(&driver).unwrap();
        if let Some(bits) = features {
            let device = driver.join("virtio0");
            std::fs::create_dir_all(&device).unwrap();
            std::fs::write(device.join("features"), format!("{bits}\n")).unwrap();
        }
        sys
    }

    #[test]
    fn a_balloon_that_reports_free_pages_gets_a_note() {
        let sys = machine(Some("0110010100000000000000000000000010000000"));
        let note = memory_note(sys.path()).unwrap();
        assert!(note.starts_with(RETURNS_MEMORY), "{note}");
    }

    #[test]
    fn no_note_without_reporting_or_without_a_balloon() {
        // Statistics and deflate-on-OOM only.
        assert_eq!(memory_note(machine(Some("0110000000")).path()), None);
        // The driver, no device bound.
        assert_eq!(memory_note(machine(None).path()), None);
        // Not a virtual machine with a balloon at all.
        assert_eq!(memory_note(tempfile::tempdir().unwrap().path()), None);
    }
}
