//! The seed cache folder: what it holds and clearing it (`rehearse cache list|clear`).
//!
//! Each entry has a lock file `<name>.lock`; `local-<major>-<key>` entries are kept cluster
//! directories, `rehearse-seed-…` entries are docker volumes (with their password beside the
//! lock). An entry whose lock is held belongs to a running rehearsal and is left alone.

use std::path::{Path, PathBuf};

use super::{CacheSpot, DbError};

/// Where seeded clusters are kept: `REHEARSE_CACHE_DIR`, else the user's cache folder; as root,
/// `/var/cache/rehearse` (the `postgres` user that runs local clusters cannot enter `/root`).
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("REHEARSE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if nix::unistd::Uid::effective().is_root() {
        return PathBuf::from("/var/cache/rehearse");
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("rehearse")
}

/// One cache entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its name (the lock file's stem).
    pub name: String,
    /// `local cluster` or `docker volume`.
    pub kind: &'static str,
    /// Bytes on disk (local clusters; docker volumes are not measured).
    pub bytes: Option<u64>,
    /// Whether a running rehearsal holds it.
    pub in_use: bool,
}

/// The entries of the cache folder `dir`, by name.
pub fn list(dir: &Path) -> Result<Vec<Entry>, DbError> {
    let io = |source| DbError::Io {
        what: "read the cache folder",
        path: dir.to_owned(),
        source,
    };
    let mut entries = Vec::new();
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
        Err(e) => return Err(io(e)),
    };
    let spot = spot(dir);
    for item in read {
        let path = item.map_err(io)?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".lock"))
        else {
            continue;
        };
        let local = name.starts_with("local-");
        let in_use = spot.lock(name)?.is_none();
        entries.push(Entry {
            name: name.to_owned(),
            kind: if local {
                "local cluster"
            } else {
                "docker volume"
            },
            bytes: local.then(|| size(&dir.join(name))),
            in_use,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Removes every entry no rehearsal holds; returns the removed and the skipped (in use) names.
pub async fn clear(dir: &Path) -> Result<(Vec<String>, Vec<String>), DbError> {
    let spot = spot(dir);
    let mut removed = Vec::new();
    let mut skipped = Vec::new();
    let mut docker = None;
    for entry in list(dir)? {
        // Held for the removal, so no run starts on it meanwhile.
        let Some(lock) = spot.lock(&entry.name)? else {
            skipped.push(entry.name);
            continue;
        };
        if entry.kind == "docker volume" {
            if docker.is_none() {
                docker = Some(super::docker::engine().await?);
            }
            let engine = docker.as_ref().expect("set above");
            // A container a dead run left on the volume goes first: a volume in use stays.
            super::docker::remove_cache_users(engine, &entry.name).await;
            if let Err(reason) = super::docker::remove_volume(engine, &entry.name).await {
                return Err(DbError::Cluster {
                    what: format!("remove the docker volume {}", entry.name),
                    reason,
                });
            }
        } else if let Some(pid) = super::leftovers::postmaster(&lock.path) {
            // Its lock is free, so the server a dead run left running on it has no owner.
            super::leftovers::stop_postmaster(pid);
        }
        remove(&lock.path)?;
        drop(lock);
        remove(&dir.join(format!("{}.lock", entry.name)))?;
        removed.push(entry.name);
    }
    Ok((removed, skipped))
}

fn spot(dir: &Path) -> CacheSpot {
    CacheSpot {
        key: String::new(),
        dir: dir.to_owned(),
        fresh: false,
    }
}

fn remove(path: &PathBuf) -> Result<(), DbError> {
    let result = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DbError::Io {
            what: "remove",
            path: path.clone(),
            source,
        }),
    }
}

/// Bytes under `path` (files only; links not followed).
fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |read| read.flatten().map(|e| size(&e.path())).sum())
}
