//! The kernel side of a bridge network, over netlink (`rtnetlink`): bridges, veth pairs,
//! addresses, routes, and network namespaces kept as bind-mounted files. Every function here
//! blocks: it runs its netlink conversation on a thread of its own with a small runtime, so a
//! thread that enters a container's namespace (`setns`) is never one of the daemon's workers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::NetworkError;

fn nl(what: &str, e: impl std::fmt::Display) -> NetworkError {
    NetworkError::host(what, e)
}

/// Runs `f` with a netlink handle on a fresh thread, first entering the network namespace
/// `netns` when given.
fn with_netlink<T: Send + 'static, F, Fut>(netns: Option<PathBuf>, f: F) -> Result<T, NetworkError>
where
    F: FnOnce(Handle) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, NetworkError>>,
{
    std::thread::spawn(move || {
        if let Some(ns) = netns {
            enter(&ns)?;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| nl("start a netlink runtime", e))?;
        rt.block_on(async move {
            let (conn, handle, _) =
                rtnetlink::new_connection().map_err(|e| nl("open a netlink socket", e))?;
            tokio::spawn(conn);
            f(handle).await
        })
    })
    .join()
    .map_err(|_| NetworkError::host("netlink", "its thread panicked"))?
}

/// Moves the calling thread into the network namespace at `ns`.
fn enter(ns: &Path) -> Result<(), NetworkError> {
    let f = std::fs::File::open(ns).map_err(|e| nl(&format!("open {}", ns.display()), e))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| nl(&format!("enter the network namespace {}", ns.display()), e))
}

/// Runs `f` on a thread inside the network namespace at `ns` (sockets it opens stay there).
pub fn in_netns<T: Send + 'static>(
    ns: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, NetworkError> {
    let ns = ns.to_path_buf();
    std::thread::spawn(move || {
        enter(&ns)?;
        f().map_err(|e| nl(&format!("in {}", ns.display()), e))
    })
    .join()
    .map_err(|_| NetworkError::host("network namespace", "its thread panicked"))?
}

async fn index(h: &Handle, name: &str) -> Result<Option<u32>, NetworkError> {
    let mut links = h.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
        Err(e) => Err(nl(&format!("look up link {name}"), e)),
    }
}

async fn must_index(h: &Handle, name: &str) -> Result<u32, NetworkError> {
    index(h, name).await?.ok_or_else(|| NetworkError::NoSuchLink { name: name.to_string() })
}

/// Adds an address to link `idx`; IPv6 ones skip duplicate address detection (the address is
/// berth's to give, and waiting for DAD would keep it unusable for a second or more).
async fn add_address(h: &Handle, idx: u32, ip: IpAddr, prefix: u8) -> Result<(), NetworkError> {
    use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
    let mut req = h.address().add(idx, ip, prefix);
    if ip.is_ipv6() {
        req.message_mut().attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    exists_ok(req.execute().await, &format!("address {ip}/{prefix}"))
}

/// Removes the IPv4 addresses of link `idx` other than `keep/prefix`.
async fn remove_other_v4(h: &Handle, idx: u32, keep: Ipv4Addr, prefix: u8) -> Result<(), NetworkError> {
    use rtnetlink::packet_route::address::AddressAttribute;
    let mut addrs = h.address().get().set_link_index_filter(idx).execute();
    let mut stale = Vec::new();
    while let Some(m) = addrs.try_next().await.map_err(|e| nl("list addresses", e))? {
        let v4 = m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(IpAddr::V4(ip)) => Some(*ip),
            _ => None,
        });
        if let Some(ip) = v4 {
            if (ip, m.header.prefix_len) != (keep, prefix) {
                stale.push(m);
            }
        }
    }
    for m in stale {
        h.address().del(m).execute().await.map_err(|e| nl("remove a stale address", e))?;
    }
    Ok(())
}

fn exists_ok(r: Result<(), rtnetlink::Error>, what: &str) -> Result<(), NetworkError> {
    match r {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => Ok(()),
        Err(e) => Err(nl(what, e)),
    }
}

/// Whether the host has a link of that name.
pub fn exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Creates the bridge `name` with `gateway/prefix` (and the IPv6 gateway `v6`) if it is
/// missing, and sets it up.
/// Makes bridge `name` (if missing) with the gateway's address as its only IPv4 address (an
/// address a changed configuration left is removed), the IPv6 gateway when given, and `mtu`
/// when given, and sets it up.
pub fn ensure_bridge(
    name: &str,
    gateway: Ipv4Addr,
    prefix: u8,
    v6: Option<(Ipv6Addr, u8)>,
    mtu: Option<u32>,
) -> Result<(), NetworkError> {
    let name = name.to_string();
    with_netlink(None, move |h| async move {
        if exists(&name) && !Path::new("/sys/class/net").join(&name).join("bridge").exists() {
            return Err(NetworkError::Taken(format!("{name} exists on this host and is not a bridge")));
        }
        if index(&h, &name).await?.is_none() {
            exists_ok(
                h.link().add(LinkBridge::new(&name).build()).execute().await,
                &format!("create bridge {name}"),
            )?;
        }
        let idx = must_index(&h, &name).await?;
        remove_other_v4(&h, idx, gateway, prefix).await?;
        add_address(&h, idx, IpAddr::V4(gateway), prefix).await?;
        if let Some((gw6, prefix6)) = v6 {
            add_address(&h, idx, IpAddr::V6(gw6), prefix6).await?;
        }
        let mut up = LinkUnspec::new_with_index(idx).up();
        if let Some(m) = mtu {
            up = up.mtu(m);
        }
        h.link().set(up.build()).execute().await.map_err(|e| nl(&format!("set {name} up"), e))
    })
}

/// Deletes a link (a bridge, a veth and its peer); a missing one is no error.
pub fn delete_link(name: &str) -> Result<(), NetworkError> {
    let name = name.to_string();
    with_netlink(None, move |h| async move {
        let Some(idx) = index(&h, &name).await? else { return Ok(()) };
        match h.link().del(idx).execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(()),
            Err(e) => Err(nl(&format!("delete link {name}"), e)),
        }
    })
}

/// The names of the host's links that start with `prefix`.
pub fn links_with_prefix(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// A new network namespace, kept alive by a bind mount on `path` (its loopback comes up with
/// the first [`attach`]).
pub fn create_netns(path: &Path) -> Result<(), NetworkError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| nl(&format!("create {}", dir.display()), e))?;
    }
    std::fs::File::create(path).map_err(|e| nl(&format!("create {}", path.display()), e))?;
    let target = path.to_path_buf();
    let made = std::thread::spawn(move || -> Result<(), NetworkError> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| nl("create a network namespace", e))?;
        let tid = nix::unistd::gettid();
        let src = format!("/proc/self/task/{tid}/ns/net");
        nix::mount::mount(
            Some(src.as_str()),
            &target,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| nl(&format!("bind the network namespace to {}", target.display()), e))
    })
    .join()
    .map_err(|_| NetworkError::host("network namespace", "its thread panicked"))?;
    if let Err(e) = made {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Unmounts and removes a namespace file; the namespace (and the veth ends in it) goes when
/// no process is left in it.
pub fn remove_netns(path: &Path) {
    let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(path);
}

/// A container's interface on a bridge.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    pub bridge: String,
    /// The host end's name (`veth` and 7 hex digits, as Docker names them).
    pub host_ifname: String,
    /// The name inside the container (`eth0`, `eth1`, …).
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub mac: [u8; 6],
    /// On an IPv6 network: the address, its prefix length and the gateway.
    pub v6: Option<(Ipv6Addr, u8, Ipv6Addr)>,
    /// Whether the gateway becomes the default route (the first network's does).
    pub default_route: bool,
    /// Both ends' MTU (the network's `com.docker.network.driver.mtu`); the kernel's default
    /// when `None`.
    pub mtu: Option<u32>,
}

/// Creates a veth pair whose container end is made directly inside the namespace `netns` as
/// `ifname` with its MAC (moving a device between namespaces costs a network-wide RCU grace
/// period, ~20 ms; creating it there does not), puts the host end on the bridge, and gives the
/// container end its address and (optionally) the default route.
pub fn attach(netns: &Path, ep: &EndpointSpec) -> Result<(), NetworkError> {
    use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
    use rtnetlink::LinkMessageBuilder;
    let ns_file = std::fs::File::open(netns).map_err(|e| nl(&format!("open {}", netns.display()), e))?;
    let e = ep.clone();
    let host_side = with_netlink(None, move |h| async move {
        let br = must_index(&h, &e.bridge).await?;
        let mut peer =
            LinkUnspec::new_with_name(&e.ifname).address(e.mac.to_vec()).setns_by_fd(ns_file.as_raw_fd());
        let mut veth =
            LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth).name(e.host_ifname.clone());
        if let Some(m) = e.mtu {
            peer = peer.mtu(m);
            veth = veth.mtu(m);
        }
        let veth = veth.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build()))).build();
        h.link()
            .add(veth)
            .execute()
            .await
            .map_err(|err| nl(&format!("create veth {}", e.host_ifname), err))?;
        put_on_bridge(&h, &e.host_ifname, br, &e.bridge).await
    });
    if let Err(err) = host_side {
        let _ = delete_link(&ep.host_ifname);
        return Err(err);
    }
    let e = ep.clone();
    let inside = with_netlink(Some(netns.to_path_buf()), move |h| async move {
        let lo = must_index(&h, "lo").await?;
        h.link()
            .set(LinkUnspec::new_with_index(lo).up().build())
            .execute()
            .await
            .map_err(|err| nl("set lo up", err))?;
        let idx = must_index(&h, &e.ifname).await?;
        h.link()
            .set(LinkUnspec::new_with_index(idx).up().build())
            .execute()
            .await
            .map_err(|err| nl(&format!("set up {}", e.ifname), err))?;
        add_address(&h, idx, IpAddr::V4(e.ip), e.prefix).await?;
        if let Some((ip6, prefix6, _)) = e.v6 {
            add_address(&h, idx, IpAddr::V6(ip6), prefix6).await?;
        }
        if e.default_route {
            h.route()
                .add(RouteMessageBuilder::<Ipv4Addr>::new().gateway(e.gateway).output_interface(idx).build())
                .execute()
                .await
                .map_err(|err| nl(&format!("default route via {}", e.gateway), err))?;
            if let Some((_, _, gw6)) = e.v6 {
                h.route()
                    .add(RouteMessageBuilder::<Ipv6Addr>::new().gateway(gw6).output_interface(idx).build())
                    .execute()
                    .await
                    .map_err(|err| nl(&format!("default route via {gw6}"), err))?;
            }
        }
        Ok(())
    });
    if inside.is_err() {
        let _ = delete_link(&ep.host_ifname);
    }
    inside
}

async fn put_on_bridge(h: &Handle, port: &str, br: u32, bridge: &str) -> Result<(), NetworkError> {
    let idx = must_index(h, port).await?;
    h.link()
        .set(LinkUnspec::new_with_index(idx).controller(br).up().build())
        .execute()
        .await
        .map_err(|err| nl(&format!("attach {port} to {bridge}"), err))
}

/// Puts the host end of a veth back on `bridge` if it is not there (the bridge was deleted and
/// made again, which leaves its ports loose). A missing `port` is no error.
pub fn reattach(port: &str, bridge: &str) -> Result<(), NetworkError> {
    let on = std::fs::read_link(Path::new("/sys/class/net").join(port).join("master"));
    if !exists(port) || on.is_ok_and(|m| m.file_name().is_some_and(|n| n == bridge)) {
        return Ok(());
    }
    let (port, bridge) = (port.to_string(), bridge.to_string());
    with_netlink(None, move |h| async move {
        let br = must_index(&h, &bridge).await?;
        put_on_bridge(&h, &port, br, &bridge).await
    })
}

/// Removes an interface from a container's namespace (`network disconnect`).
pub fn detach(netns: &Path, ifname: &str) -> Result<(), NetworkError> {
    let ifname = ifname.to_string();
    with_netlink(Some(netns.to_path_buf()), move |h| async move {
        let Some(idx) = index(&h, &ifname).await? else { return Ok(()) };
        h.link().del(idx).execute().await.map_err(|e| nl(&format!("delete {ifname}"), e))
    })
}
