//! The engine as its callers see it: one small trait per resource the Engine API serves
//! (containers and their lifecycle, exec, images, volumes, networks, the system). The daemon's
//! handlers are written against these traits, each handler module against the ones of its
//! resource, so a handler cannot reach around its resource, and a builder's RUN step or a
//! swarm task drives containers through the same calls without HTTP.
//!
//! [`Engine`] implements them all: every method hands the call to the engine's own method of the
//! same name. Every method takes the engine as `&Arc<Self>`, which is what handlers hold.

use std::io::{Read, Write};
use std::sync::Arc;

use berth_api::models::{
    ContainerConfig, ContainerCreateBody, ContainerUpdateBody, EndpointSettings, ExecConfig,
};
use berth_api::shape::{Event, NetworkView, VolumeView};
use berth_api::Filters;
use berth_distribution::{Credentials, Described, SearchResult};
use berth_image::{DeleteItem, HistoryItem, ImageInspect, ImageSummary, ImportOptions, LayerProgress};
use berth_oci::Reference;
use berth_shim::Attached;
use tokio::sync::mpsc;

use crate::attach::AttachSource;
use crate::build::{BuildEvent, BuildPruneReport, BuildRequest};
use crate::create::Created;

use crate::exec::ExecEntry;
use crate::fs::PathStat;
use crate::lifecycle::WaitCondition;
use crate::pull::{PullEvent, PullRequest};
use crate::push::PushRequest;
use crate::remove::PruneReport;
use crate::{
    AttachOptions, Container, Engine, ListOptions, LogOptions, NetworkCreate, NetworkRecord, Result,
    VolumeCreate, VolumePruneReport,
};

/// Declares a backend trait and implements it for [`Engine`] by calling the engine's method of
/// the same name. `async fn` lines become methods that return a `Send` future.
macro_rules! backend {
    ($(#[$m:meta])* pub trait $name:ident {
        $($(#[$fm:meta])* fn $f:ident(self $(, $a:ident: $t:ty)*) -> $r:ty;)*
    }) => {
        $(#[$m])*
        pub trait $name: Send + Sync + 'static {
            $($(#[$fm])* fn $f(self: &Arc<Self> $(, $a: $t)*) -> $r;)*
        }
        impl $name for Engine {
            $(fn $f(self: &Arc<Self> $(, $a: $t)*) -> $r {
                Engine::$f(self $(, $a)*)
            })*
        }
    };
    ($(#[$m:meta])* pub async trait $name:ident {
        $($(#[$fm:meta])* async fn $f:ident(self $(, $a:ident: $t:ty)*) -> $r:ty;)*
    }) => {
        $(#[$m])*
        pub trait $name: Send + Sync + 'static {
            $($(#[$fm])* fn $f(self: &Arc<Self> $(, $a: $t)*) -> impl std::future::Future<Output = $r> + Send;)*
        }
        impl $name for Engine {
            $(fn $f(self: &Arc<Self> $(, $a: $t)*) -> impl std::future::Future<Output = $r> + Send {
                Engine::$f(self $(, $a)*)
            })*
        }
    };
}

backend! {
    /// `/containers`: create, find, look at, and work with a container's files and streams.
    pub trait Containers {
        /// A container by ID, unique ID prefix or name.
        fn container(self, name: &str) -> Result<Arc<Container>>;
        fn create(self, name: Option<&str>, body: ContainerCreateBody) -> Result<Created>;
        fn list(self, o: &ListOptions) -> Result<Vec<serde_json::Value>>;
        fn inspect(self, c: &Arc<Container>, size: bool) -> Result<serde_json::Value>;
        fn rename(self, c: &Arc<Container>, new: &str) -> Result<()>;
        /// The terminal size of the container's process (`id` is the container's).
        fn resize(self, id: &str, h: u16, w: u16) -> Result<()>;
        fn top(self, c: &Arc<Container>, ps_args: &str) -> Result<serde_json::Value>;
        fn changes(self, c: &Arc<Container>) -> Result<serde_json::Value>;
        /// The log, framed for the client; the flag says whether the container has a TTY.
        fn logs(self, c: Arc<Container>, o: LogOptions) -> Result<(mpsc::Receiver<Vec<u8>>, bool)>;
        fn attach(self, c: &Arc<Container>, opts: AttachOptions) -> Result<AttachSource>;
        fn export(self, c: &Arc<Container>, out: impl Write + Send) -> Result<()>;
        fn archive_stat(self, c: &Arc<Container>, path: &str) -> Result<PathStat>;
        fn archive_get(self, c: &Arc<Container>, path: &str, out: impl Write + Send) -> Result<()>;
        fn archive_put(self, c: &Arc<Container>, path: &str, no_overwrite_dir_non_dir: bool, tar: impl Read + Send) -> Result<()>;
        #[allow(clippy::too_many_arguments)]
        fn commit(self, c: &Arc<Container>, reference: Option<String>, comment: Option<String>, author: Option<String>, changes: Vec<String>, pause: bool, config: Option<ContainerConfig>) -> Result<String>;
    }
}

backend! {
    /// A container's lifecycle: what waits on its processes.
    pub async trait Lifecycle {
        async fn start(self, c: &Arc<Container>) -> Result<()>;
        async fn stop(self, c: &Arc<Container>, signal: Option<&str>, timeout: Option<i64>) -> Result<()>;
        async fn restart(self, c: &Arc<Container>, signal: Option<&str>, timeout: Option<i64>) -> Result<()>;
        async fn kill(self, c: &Arc<Container>, signal: Option<&str>) -> Result<()>;
        async fn pause(self, c: &Arc<Container>) -> Result<()>;
        async fn unpause(self, c: &Arc<Container>) -> Result<()>;
        /// The exit code, once the condition is met.
        async fn wait(self, c: &Arc<Container>, cond: WaitCondition) -> Result<i64>;
        /// Resources and restart policy; the warnings Docker gives.
        async fn update_container(self, c: &Arc<Container>, u: ContainerUpdateBody) -> Result<Vec<String>>;
        async fn remove(self, c: &Arc<Container>, force: bool, volumes: bool) -> Result<()>;
        async fn prune(self, f: &Filters) -> Result<PruneReport>;
        /// Stats as JSON lines on `tx`, once or as they come.
        async fn stats(self, c: Arc<Container>, stream: bool, one_shot: bool, tx: mpsc::Sender<Vec<u8>>) -> ();
    }
}

backend! {
    /// `/exec`: processes started in running containers.
    pub trait Execs {
        fn exec_create(self, c: &Arc<Container>, config: ExecConfig) -> Result<String>;
        /// The exec, if it can still be started.
        fn exec_check(self, id: &str) -> Result<Arc<ExecEntry>>;
        /// Starts it; attached unless `detach`.
        fn exec_start(self, id: &str, detach: bool) -> Result<(Arc<ExecEntry>, Option<Attached>)>;
        /// Records how an attached exec ended.
        fn exec_finished(self, e: &ExecEntry, code: Option<i64>) -> ();
        fn exec_inspect(self, id: &str) -> Result<serde_json::Value>;
        fn exec_resize(self, id: &str, h: u16, w: u16) -> Result<()>;
    }
}

backend! {
    /// `/images`: the image store.
    pub trait Images {
        fn image_list(self, all: bool, f: &Filters) -> Result<Vec<ImageSummary>>;
        fn image_inspect(self, name: &str) -> Result<ImageInspect>;
        fn image_history(self, name: &str) -> Result<Vec<HistoryItem>>;
        /// Every one of `names` is present (else the first missing is not found).
        fn images_present(self, names: &[String]) -> Result<()>;
        fn image_tag(self, source: &str, repo: &str, tag: &str) -> Result<()>;
        fn image_remove(self, name: &str, force: bool) -> Result<Vec<DeleteItem>>;
        fn image_prune(self, f: &Filters) -> Result<berth_image::PruneReport>;
        fn image_load(self, reader: impl Read, progress: &mut dyn FnMut(LayerProgress<'_>)) -> Result<Vec<String>>;
        fn image_import(self, reader: impl Read, opts: &ImportOptions) -> Result<String>;
        fn image_save(self, names: &[String], out: impl Write) -> Result<()>;
    }
}

backend! {
    /// `/volumes`.
    pub trait Volumes {
        fn volume_list(self, f: &Filters) -> Result<Vec<VolumeView>>;
        fn volume_create(self, req: VolumeCreate) -> Result<VolumeView>;
        fn volume_inspect(self, name: &str) -> Result<VolumeView>;
        fn volume_remove(self, name: &str, force: bool) -> Result<()>;
        /// `legacy`: API versions before 1.42 prune named volumes too.
        fn volume_prune(self, f: &Filters, legacy: bool) -> Result<VolumePruneReport>;
    }
}

backend! {
    /// `/networks`.
    pub trait Networks {
        fn network_list(self, f: &Filters) -> Result<Vec<NetworkView>>;
        fn network_create(self, req: NetworkCreate) -> Result<NetworkRecord>;
        /// A network by name, ID or unique ID prefix.
        fn network(self, name: &str) -> Result<NetworkRecord>;
        /// The network with its containers, as inspect shows it.
        fn network_view(self, n: &NetworkRecord) -> NetworkView;
        fn network_remove(self, name: &str) -> Result<()>;
        fn network_prune(self, f: &Filters) -> Result<Vec<String>>;
        fn network_connect(self, name: &str, container: &str, cfg: EndpointSettings) -> Result<()>;
        fn network_disconnect(self, name: &str, container: &str) -> Result<()>;
    }
}

backend! {
    /// `/version`, `/info`, `/system/df` and `/events`.
    pub trait System {
        fn version(self) -> serde_json::Value;
        fn info(self) -> Result<serde_json::Value>;
        fn disk_usage(self) -> Result<serde_json::Value>;
        /// The events that match `f` from `since` (replayed) on, until `until` (nanoseconds).
        fn events_watch(self, f: Filters, since: Option<i64>, until: Option<i64>) -> mpsc::Receiver<Arc<Event>>;
    }
}

backend! {
    /// Registries: what images come from and go to.
    pub async trait Registries {
        /// Pulls an image; `events` hears each step.
        async fn image_pull(self, req: PullRequest, events: mpsc::UnboundedSender<PullEvent>) -> Result<()>;
        /// Checks credentials against a registry (`docker login`).
        /// The identity token it gave, if any.
        async fn registry_login(self, host: String, credentials: Credentials) -> Result<Option<String>>;
        /// Pushes an image's tags; `events` hears each step.
        async fn image_push(self, req: PushRequest, events: mpsc::UnboundedSender<PullEvent>) -> Result<()>;
        /// Repositories a registry finds for a search term (`docker search`).
        async fn image_search(self, term: String, limit: usize, credentials: Credentials) -> Result<Vec<SearchResult>>;
        /// What a reference names at its registry (`GET /distribution/{name}/json`).
        async fn distribution_inspect(self, reference: Reference, credentials: Credentials) -> Result<Described>;
    }
}

backend! {
    /// Dockerfile builds.
    pub async trait Builds {
        /// Builds from a context tar; `events` hears each step. The image's ID.
        async fn build(self, req: BuildRequest, context: Box<dyn Read + Send>, events: mpsc::UnboundedSender<BuildEvent>) -> Result<String>;
        /// Empties the build cache (`builder prune`): unused cache mounts and stale steps, or
        /// with `all` every step the cache remembers.
        async fn build_cache_prune(self, all: bool) -> Result<BuildPruneReport>;
        /// Cancels the running build its client named `id` (`buildid`); nothing when none is.
        async fn build_cancel(self, id: String) -> Result<()>;
    }
}

/// All of the engine: what the daemon serves.
pub trait Backend:
    Containers + Lifecycle + Execs + Images + Registries + Builds + Volumes + Networks + System
{
}

impl<T: Containers + Lifecycle + Execs + Images + Registries + Builds + Volumes + Networks + System> Backend
    for T
{
}
