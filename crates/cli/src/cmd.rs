//! The command tree, with Docker's names, short options and defaults. Management commands
//! (`container ls`) and their top-level forms (`ps`) share one argument struct each.

use clap::{Args, Parser, Subcommand};

pub use crate::args::*;

#[derive(Parser, Debug)]
#[command(name = "berth", disable_version_flag = true, disable_help_subcommand = true)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host")]
    pub host: Option<String>,
    /// Location of client config files
    #[arg(long = "config")]
    pub config: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Set the logging level
    #[arg(short = 'l', long = "log-level")]
    pub log_level: Option<String>,
    /// Name of the context to use to connect to the daemon
    #[arg(short = 'c', long = "context")]
    pub context: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// Use TLS; implied by --tlsverify
    #[arg(long = "tls", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls: Option<bool>,
    /// Trust certs signed only by this CA
    #[arg(long = "tlscacert", value_name = "string")]
    pub tlscacert: Option<String>,
    /// Path to TLS certificate file
    #[arg(long = "tlscert", value_name = "string")]
    pub tlscert: Option<String>,
    /// Path to TLS key file
    #[arg(long = "tlskey", value_name = "string")]
    pub tlskey: Option<String>,
    /// Use TLS and verify the remote
    #[arg(long = "tlsverify", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tlsverify: Option<bool>,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCmd),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCmd),
    /// Manage berth
    #[command(subcommand)]
    System(SystemCmd),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCmd),
    /// Manage contexts
    #[command(subcommand)]
    Context(ContextCmd),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCmd),
    /// Define and run multi-container applications
    Compose(crate::compose::ComposeArgs),
    /// Manage Docker image manifests and manifest lists
    #[command(subcommand)]
    Manifest(crate::manifest::ManifestCmd),
    /// Serve an OCI registry
    #[command(subcommand)]
    Registry(crate::registry::RegistryCmd),
    /// Generate the autocompletion script for the specified shell
    Completion(CompletionArgs),
    /// List containers
    Ps(PsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Return low-level information on Docker objects
    Inspect(InspectArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Show the berth version information
    Version(FormatOnly),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Display system-wide information
    Info(FormatOnly),
    #[command(
        about = "Authenticate to a registry",
        long_about = "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified."
    )]
    Login(LoginArgs),
    #[command(
        about = "Log out from a registry",
        long_about = "Log out from a registry.\nIf no server is specified, the default is defined by the daemon."
    )]
    Logout(LogoutArgs),
    /// Search Docker Hub for images
    Search(SearchArgs),
    #[command(flatten)]
    Containers(ContainerOps),
    #[command(flatten)]
    ImageOps(ImageOps),
}

/// The container commands that stand both at the top level (`berth stop`) and under
/// `container` (`berth container stop`), declared once.
#[derive(Subcommand, Debug)]
pub enum ContainerOps {
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(RunArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(Names),
    /// Pause all processes within one or more containers
    Pause(Names),
    /// Unpause all processes within one or more containers
    Unpause(Names),
    /// Rename a container
    Rename(RenameArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(OneContainer),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
}

/// The image commands that stand both at the top level and under `image`, declared once.
#[derive(Subcommand, Debug)]
pub enum ImageOps {
    /// Build an image from a Dockerfile
    Build(Box<crate::build::BuildArgs>),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
}

// Parsed once per process: the size of the run arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// List containers
    #[command(visible_aliases = ["list", "ps"])]
    Ls(PsArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more containers
    Inspect(TypedInspectArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
    #[command(flatten)]
    Ops(ContainerOps),
}

#[derive(Subcommand, Debug)]
pub enum BuilderCmd {
    /// Build an image from a Dockerfile
    Build(Box<crate::build::BuildArgs>),
    /// Remove build cache
    Prune(PruneArgs),
}

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// List images
    #[command(visible_aliases = ["list"])]
    Ls(ImagesArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Display detailed information on one or more images
    Inspect(TypedInspectArgs),
    /// Remove unused images
    Prune(PruneArgs),
    #[command(flatten)]
    Ops(ImageOps),
}

#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Create a network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(NetworkLsArgs),
    /// Display detailed information on one or more networks
    Inspect(VolumeInspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(NetworkRmArgs),
    /// Remove all unused networks
    Prune(NetworkPruneArgs),
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
}

#[derive(Args, Debug)]
pub struct NetworkCreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long = "driver", default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet")]
    pub subnet: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway")]
    pub gateway: Vec<String>,
    /// Restrict external access to the network
    #[arg(long = "internal")]
    pub internal: bool,
    /// Enable manual container attachment
    #[arg(long = "attachable")]
    pub attachable: bool,
    /// Enable or disable IPv6 networking
    #[arg(long = "ipv6")]
    pub ipv6: bool,
    /// Set metadata on a network
    #[arg(long = "label")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct NetworkLsArgs {
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format")]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display network IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct NetworkRmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct NetworkPruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct NetworkConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias")]
    pub alias: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long = "ip")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long = "ip6")]
    pub ip6: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes
    Prune(VolumePruneArgs),
}

#[derive(Args, Debug)]
pub struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long = "driver", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", hide = true)]
    pub name_flag: Option<String>,
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct VolumeLsArgs {
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format")]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct VolumeInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long = "volumes")]
    pub volumes: bool,
}

#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    Info(FormatOnly),
    /// Remove unused data
    Prune(SystemPruneArgs),
    /// Show berth disk usage
    Df(DfArgs),
    Events(EventsArgs),
    /// Proxy the stdio stream to the daemon connection (what `ssh://` hosts run on the far side)
    #[command(name = "dial-stdio", hide = true)]
    DialStdio,
}
