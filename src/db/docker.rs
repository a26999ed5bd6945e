//! The docker backend: Postgres in a container through testcontainers.
//!
//! The image is `--image`, else the scenario's `image`, else the official `postgres:<major>`;
//! when that is neither present nor pullable (no registry here), the offline-built
//! `rehearse/postgres:<major>` (scripts/build-postgres-image.sh) is used if present. The container
//! gets the scenario's settings as `postgres -c` arguments, a 1 GiB `/dev/shm` for parallel index
//! builds, fsync left on, and the label `org.rehearse.run=<run id>`; its log is copied to the
//! output folder. It is removed by [`DockerServer::shutdown`], by testcontainers on drop, and by a
//! sweep of the label, so an interrupted start leaves nothing behind either.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::AsyncWriteExt;
use tokio_postgres::Config;

use super::{BackendKind, BackendOptions, DEFAULT_MAJOR, DbError, Server};
use crate::scenario::DatabasePlan;

/// The label every container and throwaway volume of a run carries.
pub const RUN_LABEL: &str = "org.rehearse.run";
/// The label of a container that uses a seed cache volume: the volume's name.
const CACHE_LABEL: &str = "org.rehearse.cache";

const READY: &str = "database system is ready to accept connections";

/// A running Postgres container.
pub struct DockerServer {
    container: Option<ContainerAsync<GenericImage>>,
    docker: Docker,
    run_id: String,
    /// The seed cache entry whose volume the container uses, held until it is removed.
    cache: Option<super::CacheLock>,
}

impl std::fmt::Debug for DockerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerServer")
            .field("run_id", &self.run_id)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// The seed cache volume for this image and data (`--fresh` removes it first), or `None` without
/// a cache or when another run holds the entry.
async fn cache_volume(
    docker: &Docker,
    options: &BackendOptions,
    image: &str,
    notes: &mut Vec<String>,
) -> Result<Option<(super::CacheLock, String)>, DbError> {
    let Some(cache) = &options.cache else {
        return Ok(None);
    };
    let tag: String = image
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    // Volumes are machine-wide but the lock and the password live in the cache folder: one
    // volume per folder, so two folders never share (or fight over) a cluster.
    let folder = crate::values::fnv1a(&cache.dir.display().to_string()) as u32;
    let name = format!("rehearse-seed-{tag}-{}-{folder:08x}", cache.key);
    let Some(lock) = cache.lock(&name)? else {
        let note = format!(
            "another run holds the seed cache volume {name}; seeding a throwaway container"
        );
        tracing::warn!("{note}");
        notes.push(note);
        return Ok(None);
    };
    // The lock is ours, so a container still using the volume belongs to a run that died
    // without removing it: remove it before a second server could start on the same data.
    for (kind, id, container, _) in labelled_by(docker, CACHE_LABEL, &name).await {
        if kind == Labelled::Container {
            tracing::warn!(
                "removing container {container}, left on the seed cache volume {name} by a run that died"
            );
            remove_container(docker, &id)
                .await
                .map_err(|reason| DbError::Container {
                    image: image.into(),
                    reason: format!("cannot remove {container}, still using {name}: {reason}"),
                })?;
        }
    }
    // Without its password file (a cleared cache folder) the volume's cluster cannot be entered.
    if cache.fresh || !lock.path.join("password").is_file() {
        let _ = docker
            .remove_volume(
                &name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await;
        let _ = std::fs::remove_dir_all(&lock.path);
    }
    Ok(Some((lock, name)))
}

/// The password of a cached volume's cluster: set when the volume was first initialised, so it
/// is kept beside the lock.
fn cached_password(lock: &super::CacheLock) -> Result<String, DbError> {
    let path = lock.path.join("password");
    if let Ok(p) = std::fs::read_to_string(&path) {
        return Ok(p.trim().to_owned());
    }
    let password = uuid::Uuid::new_v4().simple().to_string();
    std::fs::create_dir_all(&lock.path)
        .and_then(|()| std::fs::write(&path, &password))
        .map_err(|source| DbError::Io {
            what: "write the cached cluster's password to",
            path: path.clone(),
            source,
        })?;
    Ok(password)
}

/// Connects to the Docker engine the environment points at (DOCKER_HOST or the local socket).
pub async fn engine() -> Result<Docker, DbError> {
    let docker = Docker::connect_with_defaults().map_err(|e| DbError::NoDocker {
        reason: e.to_string(),
    })?;
    match tokio::time::timeout(Duration::from_secs(5), docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(DbError::NoDocker {
            reason: e.to_string(),
        }),
        Err(_) => Err(DbError::NoDocker {
            reason: "the engine did not answer within 5 s".into(),
        }),
    }
}

/// Starts a Postgres container.
pub async fn provision(
    options: &BackendOptions,
    plan: &DatabasePlan,
    mut notes: Vec<String>,
) -> Result<Server, DbError> {
    let docker = engine().await?;
    let major = plan.major.unwrap_or(DEFAULT_MAJOR);
    let explicit = options.image.clone().or_else(|| plan.image.clone());
    let image = resolve_image(&docker, explicit, major, &mut notes).await?;

    let cache = cache_volume(&docker, options, &image, &mut notes).await?;
    let password = match &cache {
        Some((lock, _)) => cached_password(lock)?,
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    let mut cmd = vec!["postgres".to_owned()];
    for (key, value) in super::effective_settings(plan, Some(major)) {
        cmd.push("-c".into());
        cmd.push(format!("{key}={value}"));
    }
    let (name, tag) = split_image(&image);
    let request = GenericImage::new(name, tag)
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::message_on_stderr(READY))
        .with_env_var("POSTGRES_PASSWORD", &password)
        .with_cmd(cmd)
        .with_shm_size(1 << 30)
        .with_label(RUN_LABEL, &options.run_id)
        .with_label(super::owner::OWNER_LABEL, options.owner.to_string())
        .with_container_name(format!("rehearse-{}", options.run_id))
        .with_startup_timeout(Duration::from_secs(180));
    // The data directory lives on a volume either way: the container's own overlay filesystem
    // seeds at well under half the speed. Without a cache entry it is a throwaway volume,
    // labelled with the run and removed with the container.
    let (volume, request) = match &cache {
        Some((_, volume)) => (volume.clone(), request.with_label(CACHE_LABEL, volume)),
        None => (throwaway_volume(&docker, options).await?, request),
    };
    let request = request.with_mount(testcontainers::core::Mount::volume_mount(
        volume,
        "/var/lib/postgresql/data",
    ));
    tracing::info!("starting a container from {image}");
    let container = match request.start().await {
        Ok(c) => c,
        Err(e) => {
            sweep(&docker, &options.run_id).await;
            return Err(DbError::Container {
                image,
                reason: e.to_string(),
            });
        }
    };
    let server = DockerServer {
        container: Some(container),
        docker,
        run_id: options.run_id.clone(),
        cache: cache.map(|(lock, _)| lock),
    };
    let seed_cache = server
        .cache
        .as_ref()
        .and(options.cache.as_ref().map(|c| c.key.clone()));
    let container = server.container.as_ref().expect("just set");
    copy_log(container, &options.log_path)?;

    let port = container
        .get_host_port_ipv4(5432)
        .await
        .map_err(|e| DbError::Container {
            image: image.clone(),
            reason: format!("no host port for 5432: {e}"),
        })?;
    let host = container
        .get_host()
        .await
        .map_or_else(|_| "127.0.0.1".into(), |h| h.to_string());
    let host = if host == "localhost" {
        "127.0.0.1".to_owned()
    } else {
        host
    };
    let mut config = Config::new();
    config
        .host(&host)
        .port(port)
        .user("postgres")
        .password(password)
        .dbname("postgres");
    let target = super::redacted(&config);
    // The image's first start runs a temporary server on the Unix socket only, which logs the
    // same ready message: keep trying until the real one answers on TCP.
    if let Err(e) =
        super::wait_until_ready(&config, &target, Duration::from_secs(60), || Ok(())).await
    {
        server.shutdown().await;
        return Err(e);
    }
    tracing::info!("container {image} ready on {host}:{port}");
    Ok(Server {
        backend: BackendKind::Docker,
        config,
        target,
        image: Some(image),
        binaries: None,
        log: Some(options.log_path.clone()),
        settings_applied: true,
        notes,
        seed_cache,
        handle: super::Handle::Docker(Box::new(server)),
    })
}

impl DockerServer {
    /// Removes the container (and any other container of this run).
    pub async fn shutdown(mut self) {
        if let Some(container) = self.container.take()
            && let Err(e) = container.rm().await
        {
            tracing::warn!("failed to remove container: {e}");
        }
        sweep(&self.docker, &self.run_id).await;
    }
}

/// A volume for one run's data directory, labelled with the run so [`sweep`] removes it.
async fn throwaway_volume(docker: &Docker, options: &BackendOptions) -> Result<String, DbError> {
    let name = format!("rehearse-run-{}", options.run_id);
    docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(HashMap::from([
                (RUN_LABEL.to_owned(), options.run_id.clone()),
                (
                    super::owner::OWNER_LABEL.to_owned(),
                    options.owner.to_string(),
                ),
            ])),
            ..Default::default()
        })
        .await
        .map_err(|e| DbError::NoDocker {
            reason: format!("cannot create the volume {name}: {e}"),
        })?;
    Ok(name)
}

/// Removes every container labelled with this run's id, then its throwaway volumes.
pub async fn sweep(docker: &Docker, run_id: &str) {
    let mut found = labelled_by(docker, RUN_LABEL, run_id).await;
    // Containers first: a volume in use cannot be removed.
    found.sort_by_key(|(kind, ..)| *kind != Labelled::Container);
    for (kind, id, name, _) in found {
        let removed = match kind {
            Labelled::Container => remove_container(docker, &id).await,
            Labelled::Volume => remove_volume(docker, &name).await,
        };
        if let Err(e) = removed {
            tracing::warn!("failed to remove {name}: {e}");
        }
    }
}

/// What carries a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labelled {
    /// A container.
    Container,
    /// A volume.
    Volume,
}

/// Containers and volumes of runs (all runs', or `run`'s), with their labels.
pub async fn labelled(
    docker: &Docker,
    run: Option<&str>,
) -> Vec<(Labelled, String, String, HashMap<String, String>)> {
    match run {
        Some(run) => labelled_by(docker, RUN_LABEL, run).await,
        None => labelled_filter(docker, RUN_LABEL.to_owned()).await,
    }
}

async fn labelled_by(
    docker: &Docker,
    label: &str,
    value: &str,
) -> Vec<(Labelled, String, String, HashMap<String, String>)> {
    labelled_filter(docker, format!("{label}={value}")).await
}

/// Containers (any state) and volumes matching a label filter: kind, id, name, labels.
async fn labelled_filter(
    docker: &Docker,
    filter: String,
) -> Vec<(Labelled, String, String, HashMap<String, String>)> {
    let filters = HashMap::from([("label".to_owned(), vec![filter])]);
    let mut found = Vec::new();
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await;
    for c in containers.unwrap_or_default() {
        let Some(id) = c.id else { continue };
        let name = c
            .names
            .and_then(|n| n.into_iter().next())
            .map_or_else(|| id.clone(), |n| n.trim_start_matches('/').to_owned());
        found.push((Labelled::Container, id, name, c.labels.unwrap_or_default()));
    }
    let volumes = docker
        .list_volumes(Some(
            bollard::query_parameters::ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await;
    for v in volumes.ok().and_then(|v| v.volumes).unwrap_or_default() {
        found.push((Labelled::Volume, v.name.clone(), v.name, v.labels));
    }
    found
}

/// Removes the containers that use seed cache volume `volume` (their run is gone: the caller
/// holds the entry's lock).
pub async fn remove_cache_users(docker: &Docker, volume: &str) {
    for (kind, id, name, _) in labelled_by(docker, CACHE_LABEL, volume).await {
        if kind == Labelled::Container
            && let Err(e) = remove_container(docker, &id).await
        {
            tracing::warn!("failed to remove container {name}: {e}");
        }
    }
}

/// Removes a container, running or not.
pub async fn remove_container(docker: &Docker, id: &str) -> Result<(), String> {
    match docker
        .remove_container(
            id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.to_string().contains("404") => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Removes a volume.
pub async fn remove_volume(docker: &Docker, name: &str) -> Result<(), String> {
    match docker
        .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.to_string().contains("404") => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Picks the image: the explicit one if present or pullable; else `postgres:<major>` if present
/// or pullable; else the offline-built `rehearse/postgres:<major>` if present.
async fn resolve_image(
    docker: &Docker,
    explicit: Option<String>,
    major: u32,
    notes: &mut Vec<String>,
) -> Result<String, DbError> {
    if let Some(image) = explicit {
        return match available(docker, &image).await {
            Ok(()) => Ok(image),
            Err(why) => Err(DbError::NoImage {
                reason: format!("{image}: {why}"),
                major,
            }),
        };
    }
    let official = format!("postgres:{major}");
    let official_why = match available(docker, &official).await {
        Ok(()) => return Ok(official),
        Err(why) => why,
    };
    let offline = format!("rehearse/postgres:{major}");
    if docker.inspect_image(&offline).await.is_ok() {
        let note = format!("{official} is not available ({official_why}); using {offline}");
        tracing::info!("{note}");
        notes.push(note);
        return Ok(offline);
    }
    Err(DbError::NoImage {
        reason: format!("{official}: {official_why}; {offline}: not present either"),
        major,
    })
}

/// Whether `image` is present, pulling it if not.
async fn available(docker: &Docker, image: &str) -> Result<(), String> {
    if docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    let (name, tag) = split_image(image);
    let options = CreateImageOptionsBuilder::default()
        .from_image(name)
        .tag(tag)
        .build();
    let mut pull = docker.create_image(Some(options), None, None);
    let pulled = tokio::time::timeout(Duration::from_secs(600), async {
        while let Some(progress) = pull.next().await {
            progress.map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    })
    .await;
    match pulled {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("not present locally, and pulling failed: {e}")),
        Err(_) => Err("not present locally, and pulling took over 10 minutes".into()),
    }
}

/// `repo/name:tag` → (`repo/name`, `tag`); no tag means `latest`.
fn split_image(image: &str) -> (&str, &str) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(colon) => (&image[..slash + colon], &image[slash + colon + 1..]),
        None => (image, "latest"),
    }
}

/// Copies the container's stdout and stderr into the server log until the container goes away.
fn copy_log(
    container: &ContainerAsync<GenericImage>,
    path: &std::path::Path,
) -> Result<(), DbError> {
    let file = super::create_server_log(path)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stderr = container.stderr(true);
    tokio::spawn(async move {
        let _ = tokio::io::copy_buf(&mut stderr, &mut file).await;
        let _ = file.flush().await;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_image;

    #[test]
    fn image_names_split_at_the_tag() {
        assert_eq!(split_image("postgres:17"), ("postgres", "17"));
        assert_eq!(
            split_image("rehearse/postgres:18"),
            ("rehearse/postgres", "18")
        );
        assert_eq!(
            split_image("localhost:5000/pg:15"),
            ("localhost:5000/pg", "15")
        );
        assert_eq!(split_image("postgres"), ("postgres", "latest"));
    }
}
