//! Bridge networking through berthd and the real docker CLI: the default bridge, user-defined
//! networks with DNS by name, isolation between networks, internal networks, published ports
//! (reachable from the host, conflicts refused, nothing left after removal), connect and
//! disconnect, and a daemon restart. Outside addresses are simulated by a network namespace
//! the test creates (`ip netns`), never real ones.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_tests::daemon::Berthd;
use berth_tests::netns::TestNetns;

/// `GET /` from `addr` on the host, or the connection's error.
fn http_get(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// A free TCP port on the host's loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn table(d: &Berthd) -> String {
    let out = Command::new("nft").args(["list", "table", "inet", &d.prefix]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const SERVE: &str = "mkdir -p /w && hostname > /w/index.html && exec httpd -f -p 80 -h /w";

#[test]
fn user_networks_resolve_names_and_are_isolated() {
    let d = Berthd::start();
    let k = std::process::id() % 200 + 20;
    let front = format!("10.215.{k}.0/24");
    let back = format!("10.216.{k}.0/24");
    let inner = format!("10.217.{k}.0/24");
    d.ok(&["network", "create", "--subnet", &front, "front"]);
    d.ok(&["network", "create", "--subnet", &back, "back"]);
    d.ok(&["network", "create", "--subnet", &inner, "--internal", "inner"]);
    let ls = d.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Internal}}"]);
    assert_eq!(ls, "back bridge false\nbridge bridge false\nfront bridge false\nhost host false\ninner bridge true\nnone null false\n");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "api",
        "--hostname",
        "api-host",
        "--network",
        "front",
        "--network-alias",
        "svc",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "api2",
        "--hostname",
        "api2-host",
        "--network",
        "front",
        "--network-alias",
        "svc",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    d.ok(&["run", "-d", "--name", "other", "--network", "back", "busybox", "sleep", "1000"]);
    let api_ip = d.inspect("api", "{{.NetworkSettings.Networks.front.IPAddress}}");
    assert!(api_ip.starts_with(&format!("10.215.{k}.")), "{api_ip}");
    // By name, by alias (both addresses), and HTTP between the two.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "busybox",
        "sh",
        "-c",
        "ping -c1 -W2 api >/dev/null && wget -qO- http://api/index.html && wget -qO- http://api2/index.html",
    ]);
    assert_eq!(out, "api-host\napi2-host\n");
    let out = d.ok(&["run", "--rm", "--network", "front", "busybox", "nslookup", "svc"]);
    assert_eq!(out.matches(&format!("Address: 10.215.{k}.")).count(), 2, "{out}");
    // Round robin: successive answers start with different addresses.
    let firsts = d.ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4; do nslookup -type=a svc | grep -m1 '^Address: 10' ; done | sort -u | wc -l",
    ]);
    assert_eq!(firsts.trim(), "2", "both addresses come first in turn");
    // The network's bridge deleted behind berth's back: a reload makes it again and puts the
    // running containers back on it.
    let id = d.ok(&["network", "inspect", "-f", "{{.Id}}", "front"]);
    let bridge = format!("{}-{}", d.prefix, &id[..8]);
    assert!(Command::new("ip").args(["link", "del", &bridge]).status().unwrap().success());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(d.pid()), nix::sys::signal::Signal::SIGHUP).unwrap();
    d.wait_for(10, "api2 reaching api after the bridge came back", || {
        d.docker(&["exec", "api2", "timeout", "2", "wget", "-qO-", "http://api/index.html"]).status.success()
    });
    let resolv = d.ok(&["exec", "api", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");
    // Names of one network do not resolve on another, and its addresses cannot be reached.
    let (_, err) = d.fails(&["exec", "other", "ping", "-c1", "-W1", "api"]);
    assert!(err.contains("bad address"), "{err}");
    let (code, _) = d.fails(&["exec", "other", "ping", "-c1", "-W1", &api_ip]);
    assert_eq!(code, 1);
    // On the default bridge names do not resolve, as on Docker, but --link names do.
    let (_, err) = d.fails(&["run", "--rm", "busybox", "ping", "-c1", "-W1", "api"]);
    assert!(err.contains("bad address"), "{err}");
    d.ok(&["run", "-d", "--name", "old", "busybox", "sleep", "1000"]);
    let out = d.ok(&[
        "run",
        "--rm",
        "--link",
        "old:legacy",
        "busybox",
        "sh",
        "-c",
        "ping -c1 -W2 legacy >/dev/null && ping -c1 -W2 old >/dev/null && echo linked",
    ]);
    assert_eq!(out, "linked\n");
    d.ok(&["rm", "-f", "old"]);
    // An internal network has no way out: not even to the host's side of another network.
    let gw = d.inspect("front", "{{(index .IPAM.Config 0).Gateway}}");
    d.ok(&["run", "--rm", "--network", "back", "busybox", "ping", "-c1", "-W2", &gw]);
    let (code, _) = d.fails(&["run", "--rm", "--network", "inner", "busybox", "ping", "-c1", "-W1", &gw]);
    assert_eq!(code, 1);
    // connect and disconnect on a running container.
    d.ok(&["network", "connect", "--alias", "bridged", "front", "other"]);
    assert_eq!(d.ok(&["exec", "other", "wget", "-qO-", "http://api/index.html"]), "api-host\n");
    let names =
        d.inspect("other", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}");
    assert!(
        names.starts_with(&format!("back=10.216.{k}.")) && names.contains(&format!("front=10.215.{k}.")),
        "{names}"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "sh",
            "-c",
            "nslookup bridged >/dev/null && echo found"
        ]),
        "found\n"
    );
    d.ok(&["network", "disconnect", "front", "other"]);
    let (_, err) = d.fails(&["exec", "other", "ping", "-c1", "-W1", "api"]);
    assert!(err.contains("bad address"), "{err}");
    // Removal: refused while in use, then clean.
    let (code, err) = d.fails(&["network", "rm", "front"]);
    assert_eq!(code, 1);
    assert!(err.contains("has active endpoints"), "{err}");
    let (_, err) = d.fails(&["network", "rm", "bridge"]);
    assert!(err.contains("bridge is a pre-defined network and cannot be removed"), "{err}");
    d.ok(&["rm", "-f", "api", "api2", "other"]);
    // `until` keeps networks made since: none is older than an hour, all are older than now.
    assert_eq!(d.ok(&["network", "prune", "-f", "--filter", "until=1h"]), "");
    let pruned =
        d.ok(&["network", "prune", "-f", "--filter", &format!("until={}", berth_tests::daemon::now_arg())]);
    assert_eq!(pruned, "Deleted Networks:\nback\nfront\ninner\n\n");
    let links = berth_network::link::links_with_prefix(&d.prefix);
    assert_eq!(links, vec![format!("{}0", d.prefix)], "only the default bridge is left");
    assert_eq!(std::fs::read_dir(d.exec_root.join("netns")).unwrap().count(), 0, "no namespace is left");
}

#[test]
fn published_ports_answer_conflict_and_leave_nothing() {
    let mut d = Berthd::start();
    let baseline = table(&d);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "web-host",
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    let addr = format!("127.0.0.1:{port}");
    d.wait_for(10, "the published port", || http_get(&addr).is_ok_and(|r| r.contains("web-host")));
    assert_eq!(d.ok(&["port", "web"]), format!("80/tcp -> 127.0.0.1:{port}\n"));
    assert_eq!(
        d.inspect("web", "{{json .NetworkSettings.Ports}}"),
        format!("{{\"80/tcp\":[{{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"{port}\"}}]}}")
    );
    let ps = d.ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ps, format!("127.0.0.1:{port}->80/tcp\n"));
    assert!(table(&d).contains(&format!("tcp dport {port} dnat ip to")), "{}", table(&d));
    // The same host port again: Docker's refusal.
    let (code, err) = d.fails(&["run", "-d", "--name", "second", "-p", &publish, "busybox", "sleep", "100"]);
    assert_eq!(code, 125);
    assert!(err.contains(&format!("Bind for 127.0.0.1:{port} failed: port is already allocated")), "{err}");
    // -P: every exposed port on a free host port.
    d.ok(&["run", "-d", "--name", "all", "-P", "--expose", "80", "busybox", "sh", "-c", SERVE]);
    let line = d.ok(&["port", "all", "80"]);
    let p: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    d.wait_for(10, "the -P port", || http_get(&format!("127.0.0.1:{p}")).is_ok());
    // UDP on the host's loopback: the proxy relays datagrams there and the replies back.
    let uport = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let probe = format!("{}:/probe:ro", berth_tests::env().probe.display());
    d.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-v",
        &probe,
        "-p",
        &format!("127.0.0.1:{uport}:5000/udp"),
        "busybox",
        "/probe",
        "udp-echo",
        "5000",
    ]);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    d.wait_for(10, "an answer through the UDP proxy", || {
        let _ = client.send_to(b"over-udp", ("127.0.0.1", uport));
        let mut buf = [0u8; 64];
        client.recv(&mut buf).is_ok_and(|n| &buf[..n] == b"echo:over-udp")
    });
    d.ok(&["rm", "-f", "udp"]);
    // A daemon killed and restarted: the port still answers (proxy and rules are back).
    d.kill9();
    d.launch();
    d.wait_for(10, "the port after a restart", || http_get(&addr).is_ok_and(|r| r.contains("web-host")));
    // Rules flushed behind berth's back come back with a reload (SIGHUP).
    Command::new("nft").args(["flush", "table", "inet", &d.prefix]).status().unwrap();
    assert!(!table(&d).contains("dnat"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(d.pid()), nix::sys::signal::Signal::SIGHUP).unwrap();
    d.wait_for(10, "the rules after a reload", || {
        table(&d).contains(&format!("tcp dport {port} dnat ip to"))
    });
    // Removed: the port is free and the firewall is as before.
    d.ok(&["rm", "-f", "web", "all", "second"]);
    assert!(std::net::TcpListener::bind(&addr).is_ok(), "the port is free again");
    assert_eq!(table(&d), baseline, "no rule is left");
    assert_eq!(std::fs::read_dir(d.exec_root.join("netns")).unwrap().count(), 0);
}

/// A network namespace of the test's own, joined to the host by a veth pair: an "outside"
/// address for containers to reach (or not).
struct Outside {
    ns: TestNetns,
    host_if: String,
}

impl Outside {
    fn new(k: u32) -> Outside {
        let host_if = format!("btov{k}");
        let run = |args: &[&str]| {
            let st = Command::new("ip").args(args).stderr(Stdio::inherit()).status().unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        let o = Outside { ns: TestNetns::new(format!("btout{k}")), host_if: host_if.clone() };
        let ns = o.ns.name.clone();
        run(&["link", "add", &host_if, "type", "veth", "peer", "name", "eth0", "netns", &ns]);
        run(&["addr", "add", &format!("10.218.{k}.1/30"), "dev", &host_if]);
        run(&["link", "set", &host_if, "up"]);
        run(&["-n", &ns, "addr", "add", &format!("10.218.{k}.2/30"), "dev", "eth0"]);
        run(&["-n", &ns, "link", "set", "eth0", "up"]);
        o
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        // The namespace itself goes with `ns`, after this.
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).status();
    }
}

#[test]
fn containers_reach_outside_through_masquerade_but_internal_ones_do_not() {
    let d = Berthd::start();
    let k = std::process::id() % 200 + 20;
    let _out = Outside::new(k);
    let outside = format!("10.218.{k}.2");
    // The default bridge and a user network go out (masqueraded: the outside has no route back
    // to the containers' subnets).
    d.ok(&["run", "--rm", "busybox", "ping", "-c1", "-W2", &outside]);
    // stats count the container's traffic on its interfaces.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        &format!("ping -c2 {outside}; exec sleep 1000"),
    ]);
    d.wait_for(10, "network counters", || {
        let io = d.ok(&["stats", "--no-stream", "--format", "{{.NetIO}}", "talker"]);
        !io.starts_with("0B / ") && !io.trim().ends_with("/ 0B")
    });
    d.ok(&["rm", "-f", "talker"]);
    // A published port is reachable from another host (DNAT): the outside namespace asks the
    // host's address on its link.
    let port = free_port();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "served",
        "--hostname",
        "served-host",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    let host_addr = format!("10.218.{k}.1");
    d.wait_for(10, "the port from outside", || {
        let mut c = Command::new("ip")
            .args([
                "netns",
                "exec",
                &format!("btout{k}"),
                "busybox",
                "nc",
                "-w",
                "3",
                &host_addr,
                &port.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(b"GET /index.html HTTP/1.0\r\n\r\n").unwrap();
        String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).contains("served-host")
    });
    d.ok(&["rm", "-f", "served"]);
    d.ok(&["network", "create", "--subnet", &format!("10.219.{k}.0/24"), "--internal", "sealed"]);
    let (code, _) =
        d.fails(&["run", "--rm", "--network", "sealed", "busybox", "ping", "-c1", "-W1", &outside]);
    assert_eq!(code, 1);
    d.ok(&["network", "rm", "sealed"]);
}

#[test]
fn subnets_come_from_the_configured_pools() {
    let k = std::process::id() % 200 + 20;
    let d = Berthd::start_with(
        serde_json::json!({"default-address-pools": [{"base": format!("10.222.{k}.0/24"), "size": 28}]}),
        &[],
    );
    d.ok(&["network", "create", "p1"]);
    d.ok(&["network", "create", "p2"]);
    let subnet =
        |n: &str| d.inspect(n, "{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}");
    assert_eq!(subnet("p1"), format!("10.222.{k}.0/28 10.222.{k}.1"));
    assert_eq!(subnet("p2"), format!("10.222.{k}.16/28 10.222.{k}.17"));
    let ip = d.ok(&["run", "--rm", "--network", "p2", "busybox", "sh", "-c", "ip -o -4 addr show eth0"]);
    assert!(ip.contains(&format!("inet 10.222.{k}.18/28")), "{ip}");
    let (_, err) = d.fails(&["network", "create", "--subnet", &format!("10.222.{k}.0/29"), "p3"]);
    assert!(err.contains("Pool overlaps with other one on this address space"), "{err}");
    d.ok(&["network", "rm", "p1", "p2"]);
    // A host interface is never taken over as a network's bridge.
    let (_, err) = d.fails(&["network", "create", "-o", "com.docker.network.bridge.name=lo", "hijack"]);
    assert!(err.contains("bridge name lo is already in use on this host"), "{err}");
    // Drivers: one host and one null network, and Docker's words for a driver berth lacks.
    let (code, err) = d.fails(&["network", "create", "-d", "host", "host2"]);
    assert_eq!(
        (code, err.trim()),
        (1, "Error response from daemon: only one instance of \"host\" network is allowed")
    );
    let (_, err) = d.fails(&["network", "create", "-d", "null", "none2"]);
    assert!(err.contains("only one instance of \"null\" network is allowed"), "{err}");
    let (_, err) = d.fails(&["network", "create", "-d", "macvlan", "mv"]);
    assert!(err.contains("could not find plugin macvlan in v1 plugin registry: plugin not found"), "{err}");
    let (_, err) = d.fails(&["network", "rm", "host"]);
    assert!(err.contains("host is a pre-defined network and cannot be removed"), "{err}");
    assert_eq!(d.ok(&["network", "ls", "-q", "--filter", "type=custom"]), "");
}

#[test]
fn ipv6_networks_give_containers_addresses_names_and_routes() {
    let d = Berthd::start();
    let k = std::process::id() % 200 + 20;
    let sub6 = format!("fd00:b7:{k:x}::/64");
    let addr = |n: u32| format!("fd00:b7:{k:x}::{n:x}");
    // Docker's refusals: IPv6 parts without --ipv6.
    let (code, err) = d.fails(&["network", "create", "--subnet", &sub6, "nosix"]);
    assert_eq!(code, 1);
    assert!(err.contains("add --ipv6"), "{err}");
    d.ok(&["network", "create", "--ipv6", "--subnet", &sub6, "six"]);
    assert_eq!(d.ok(&["network", "inspect", "-f", "{{.EnableIPv6}}", "six"]).trim(), "true");
    let config =
        d.ok(&["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}};{{end}}", "six"]);
    assert!(config.contains(&format!("{sub6} {};", addr(1))), "{config}");
    assert!(config.starts_with("172.") || config.starts_with("192.168."), "an IPv4 subnet too: {config}");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "alpha",
        "--hostname",
        "alpha-host",
        "--network",
        "six",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "beta",
        "--network",
        "six",
        "--ip6",
        &addr(0x99),
        "busybox",
        "sleep",
        "1000",
    ]);
    let net = |c: &str, f: &str| d.inspect(c, &format!("{{{{.NetworkSettings.Networks.six.{f}}}}}"));
    assert_eq!(net("alpha", "GlobalIPv6Address"), addr(2));
    assert_eq!(net("alpha", "GlobalIPv6PrefixLen"), "64");
    assert_eq!(net("alpha", "IPv6Gateway"), addr(1));
    assert_eq!(net("beta", "GlobalIPv6Address"), addr(0x99));
    assert_eq!(net("beta", "IPAMConfig.IPv6Address"), addr(0x99));
    let members =
        d.ok(&["network", "inspect", "-f", "{{range .Containers}}{{.Name}}={{.IPv6Address}} {{end}}", "six"]);
    assert!(members.contains(&format!("alpha={}/64", addr(2))), "{members}");
    // Inside: the address, the default route, /etc/hosts, and traffic to the other container.
    let routes = d.ok(&["exec", "alpha", "ip", "-6", "route"]);
    assert!(routes.contains(&format!("default via {}", addr(1))), "{routes}");
    let hosts = d.ok(&["exec", "alpha", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{}\talpha-host", addr(2))), "{hosts}");
    d.ok(&["exec", "beta", "ping", "-6", "-c1", "-W2", &addr(2)]);
    let page = d.ok(&[
        "exec",
        "beta",
        "sh",
        "-c",
        &format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc {} 80", addr(2)),
    ]);
    assert!(page.contains("alpha-host"), "{page}");
    // The embedded DNS answers AAAA with the IPv6 address, and A with the IPv4 one.
    let aaaa = d.ok(&["exec", "beta", "nslookup", "-type=aaaa", "alpha"]);
    assert!(aaaa.contains(&addr(2)), "{aaaa}");
    d.ok(&["exec", "beta", "ping", "-6", "-c1", "-W2", "alpha"]);
    // The host reaches it through the bridge's gateway address.
    let ping = Command::new("busybox").args(["ping", "-6", "-c1", "-W2", &addr(2)]).output().unwrap();
    assert!(ping.status.success(), "{}", String::from_utf8_lossy(&ping.stdout));
    assert!(table(&d).contains(&format!("ip6 saddr {sub6} oifname")), "{}", table(&d));
    // --ip6 on a network without IPv6 is refused; --ipv6 without a subnet gets a ULA /64.
    d.ok(&["network", "create", "four"]);
    let (code, err) = d.fails(&["run", "--rm", "--network", "four", "--ip6", &addr(5), "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("--ip6 needs a network created with --ipv6"), "{err}");
    d.ok(&["network", "create", "--ipv6", "auto6"]);
    let auto = d.ok(&["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", "auto6"]);
    assert!(auto.split_whitespace().any(|s| s.starts_with("fd") && s.ends_with("::/64")), "{auto}");
    d.ok(&["rm", "-f", "alpha", "beta"]);
    d.ok(&["network", "rm", "six", "four", "auto6"]);
    assert!(!table(&d).contains("ip6 saddr"), "{}", table(&d));
}

#[test]
fn the_iptables_backend_publishes_masquerades_and_isolates_in_chains_of_its_own() {
    let k = std::process::id() % 200 + 20;
    // The daemon runs in a namespace of the test's: the host's own chains are never touched.
    let ns = TestNetns::new(format!("btfw{k}"));
    let d = Berthd::start_in(Some(&ns.path()), serde_json::json!({"firewall-backend": "iptables"}), &[]);
    let chain = d.prefix.to_ascii_uppercase();
    let save = || ns.exec(&["iptables-save"]);
    assert_eq!(d.ok(&["info", "-f", "{{.FirewallBackend.Driver}}"]).trim(), "iptables");
    let rules = save();
    for jump in [
        format!("-A PREROUTING -m addrtype --dst-type LOCAL -j {chain}-PUBLISH"),
        format!("-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j {chain}-PUBLISH"),
        format!("-A POSTROUTING -j {chain}-POSTROUTING"),
        format!("-A FORWARD -j {chain}-FORWARD"),
        format!("-A {chain}-FORWARD -j {chain}-USER"),
    ] {
        assert_eq!(rules.matches(&jump).count(), 1, "{jump:?} once in\n{rules}");
    }
    let front = format!("10.219.{k}.0/24");
    d.ok(&["network", "create", "--subnet", &front, "front"]);
    d.ok(&["network", "create", "--subnet", &format!("10.220.{k}.0/24"), "back"]);
    let port = free_port();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "web-host",
        "--network",
        "front",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    d.ok(&["run", "-d", "--name", "other", "--network", "back", "busybox", "sleep", "1000"]);
    let web_ip = d.inspect("web", "{{.NetworkSettings.Networks.front.IPAddress}}");
    let id = d.ok(&["network", "inspect", "-f", "{{.Id}}", "front"]);
    let bridge = format!("{}-{}", d.prefix, &id[..8]);
    let rules = save();
    let dnat = format!(
        "-A {chain}-PUBLISH ! -i {bridge} -p tcp -m tcp --dport {port} -j DNAT --to-destination {web_ip}:80"
    );
    assert!(rules.contains(&dnat), "{dnat:?} in\n{rules}");
    assert!(
        rules.contains(&format!("-A {chain}-POSTROUTING -s {front} ! -o {bridge} -j MASQUERADE")),
        "{rules}"
    );
    // The host (the namespace) reaches the port on its own bridge address: DNAT in OUTPUT, as
    // the rule's counter shows.
    let gateway = d.ok(&["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", "bridge"]);
    let url = format!("http://{}:{port}/index.html", gateway.trim());
    d.wait_for(10, "the published port", || {
        Command::new("ip")
            .args(["netns", "exec", &ns.name, "curl", "-s", "--max-time", "3", &url])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("web-host"))
    });
    let counters = ns.exec(&["iptables", "-t", "nat", "-L", &format!("{chain}-PUBLISH"), "-v", "-n", "-x"]);
    let hits: u64 = counters
        .lines()
        .find(|l| l.contains("DNAT"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(hits > 0, "{counters}");
    // The same network flows; another network is cut off though the namespace forwards.
    let out =
        d.ok(&["run", "--rm", "--network", "front", "busybox", "wget", "-qO-", "http://web/index.html"]);
    assert_eq!(out, "web-host\n");
    let (code, _) = d.fails(&["exec", "other", "nc", "-w", "2", &web_ip, "80"]);
    assert_eq!(code, 1);
    // Removed: no DNAT is left, and the networks' rules go with them.
    d.ok(&["rm", "-f", "web", "other"]);
    assert!(!save().contains("-j DNAT"), "{}", save());
    d.ok(&["network", "rm", "front", "back"]);
    let rules = save();
    assert!(!rules.contains(&front) && !rules.contains(&bridge), "{rules}");
    assert_eq!(rules.matches(&format!("-j {chain}-PUBLISH")).count(), 2, "the jumps stay, once each");
}

#[test]
fn berths_networks_keep_working_beside_dockers_firewall() {
    let k = std::process::id() % 200 + 20;
    // Everything happens in namespaces of the test's: the reference dockerd sets its FORWARD
    // policy to DROP there, never on the host (br_netfilter, which it loads, is the kernel's).
    let ns = TestNetns::new(format!("btdk{k}"));
    let outside = TestNetns::new(format!("btdo{k}"));
    let (v_in, v_out) = (format!("btdv{k}a"), format!("btdv{k}b"));
    let made = Command::new("ip")
        .args([
            "link",
            "add",
            &v_in,
            "netns",
            &ns.name,
            "type",
            "veth",
            "peer",
            "name",
            &v_out,
            "netns",
            &outside.name,
        ])
        .status()
        .unwrap();
    assert!(made.success());
    ns.exec(&["ip", "addr", "add", &format!("10.222.{k}.1/24"), "dev", &v_in]);
    ns.exec(&["ip", "link", "set", &v_in, "up"]);
    outside.exec(&["ip", "addr", "add", &format!("10.222.{k}.2/24"), "dev", &v_out]);
    outside.exec(&["ip", "link", "set", &v_out, "up"]);
    // As on a fresh host: forwarding off, which Docker turns on and answers with a DROP policy.
    ns.exec(&["sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"]);
    let docker = berth_tests::refdocker::RefDockerd::start_in(
        Some(&ns.path()),
        &[&format!("--bip=10.221.{k}.1/24"), "--storage-driver=overlay2"],
    );
    let forward = ns.exec(&["iptables", "-S", "FORWARD"]);
    assert!(forward.contains("-P FORWARD DROP"), "the reference engine's policy: {forward}");
    let nft = Berthd::start_in(Some(&ns.path()), serde_json::json!({}), &[]);
    let ipt = Berthd::start_in(Some(&ns.path()), serde_json::json!({"firewall-backend": "iptables"}), &[]);
    for (d, n) in [(&nft, 223), (&ipt, 224)] {
        let subnet = format!("10.{n}.{k}.0/24");
        d.ok(&["network", "create", "--subnet", &subnet, "app"]);
        d.ok(&[
            "run",
            "-d",
            "--name",
            "srv",
            "--hostname",
            "srv-host",
            "--network",
            "app",
            "busybox",
            "sh",
            "-c",
            SERVE,
        ]);
        // Between containers of one network (bridged, through FORWARD with br_netfilter) and
        // out of it (routed, masqueraded) to another host.
        let backend = d.ok(&["info", "-f", "{{.FirewallBackend.Driver}}"]);
        let fetch = || {
            let args = [
                "run",
                "--rm",
                "--network",
                "app",
                "busybox",
                "timeout",
                "3",
                "wget",
                "-qO-",
                "http://srv/index.html",
            ];
            String::from_utf8_lossy(&d.docker(&args).stdout).into_owned()
        };
        let mut page = fetch();
        for _ in 0..10 {
            if page.contains("srv-host") {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
            page = fetch();
        }
        assert_eq!(page, "srv-host\n", "{backend}: the server on the same network");
        d.ok(&["run", "--rm", "--network", "app", "busybox", "ping", "-c1", "-W3", &format!("10.222.{k}.2")]);
        d.ok(&["run", "--rm", "busybox", "ping", "-c1", "-W3", &format!("10.222.{k}.2")]);
    }
    // Beside the nftables backend the way is a chain of berth's own, entered from DOCKER-USER.
    let chain = format!("{}-ALLOW", nft.prefix.to_ascii_uppercase());
    let id = nft.ok(&["network", "inspect", "-f", "{{.Id}}", "app"]);
    let bridge = format!("{}-{}", nft.prefix, &id[..8]);
    let allow = ns.exec(&["iptables", "-S", &chain]);
    assert!(allow.contains(&format!("-A {chain} -i {bridge} -j ACCEPT")), "{allow}");
    let user = ns.exec(&["iptables", "-S", "DOCKER-USER"]);
    assert_eq!(user.matches(&format!("-j {chain}")).count(), 1, "{user}");
    // An address of berth's on another interface is told, in the log and in info's warnings.
    let dummy = format!("btdm{k}");
    ns.exec(&["ip", "link", "add", &dummy, "type", "veth", "peer", "name", &format!("btdn{k}")]);
    ns.exec(&["ip", "addr", "add", &format!("10.223.{k}.200/24"), "dev", &dummy]);
    ns.exec(&["ip", "link", "set", &dummy, "up"]);
    let warnings = nft.ok(&["info", "-f", "{{json .Warnings}}"]);
    assert!(warnings.contains(&format!("overlaps 10.223.{k}.0/24 on {dummy}")), "{warnings}");
    // The network's removal takes its accepts with it.
    for d in [&nft, &ipt] {
        d.ok(&["rm", "-f", "srv"]);
        d.ok(&["network", "rm", "app"]);
    }
    assert!(!ns.exec(&["iptables", "-S", &chain]).contains(&bridge));
    drop(docker);
}
