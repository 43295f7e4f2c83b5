//! The shim's event loop: one thread, `poll(2)` over the control socket, its clients, the
//! container's (and execs') output, and a signalfd for SIGCHLD.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::logfile::JsonFileLog;
use crate::protocol::{frame_header, parse_frames, Request, Response, STDERR, STDIN, STDOUT, SYSTEM};
use crate::runtime::{read_pid, RuntimeCmd};
use crate::status::{self, ShimRecord, EXIT_RECORD, SHIM_RECORD, SOCKET};
use crate::stdio::{give_stdio, read_output, take_stdio, write_stdin, Stdio3};
use crate::{now_rfc3339, ExitStatus, ShimError, ShimOptions};

/// A client that does not read its attach stream is dropped past this much backlog.
const MAX_CLIENT_BACKLOG: usize = 8 << 20;
/// After the container's init exits, output is drained for at most this long.
const DRAIN_MS: u16 = 2000;

/// What the launcher reads back on the ready pipe: one JSON line.
pub fn ready_line(result: &Result<(i32, bool), ShimError>) -> String {
    let v = match result {
        Ok((pid, tty)) => {
            serde_json::json!({"ok": true, "pid": pid, "tty": tty, "shim_pid": std::process::id()})
        }
        Err(e) => serde_json::json!({"ok": false, "error": e.to_string()}),
    };
    format!("{v}\n")
}

enum Mode {
    Control,
    Attached {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Waiting,
    Exec(String),
    /// Close once the backlog is written.
    Closing,
}

struct Client {
    /// Stable for the connection's life: positions in `clients` shift as others leave.
    id: u64,
    sock: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    mode: Mode,
    dead: bool,
}

struct Exec {
    pid: i32,
    io: Stdio3,
    /// The attached client's `id`.
    client: Option<u64>,
    exit: Option<i32>,
}

struct Shim {
    opts: ShimOptions,
    rt: RuntimeCmd,
    init: i32,
    tty: bool,
    /// The container's `linux.cgroupsPath`, where its OOM kills are counted.
    cgroups_path: Option<String>,
    io: Stdio3,
    log: Option<JsonFileLog>,
    clients: Vec<Client>,
    next_client: u64,
    execs: HashMap<String, Exec>,
    started_at: Option<String>,
    init_exit: Option<(i32, String)>,
    /// The runtime's `create`, waiting to start the container ([`berth_sys::handoff`]).
    starter: Option<UnixStream>,
}

/// What the shim needs of the bundle's `config.json`, read once at create: a typed read skips
/// the rest (the seccomp profile makes up most of the document) without building it.
#[derive(Debug, Default, serde::Deserialize)]
struct BundleConfig {
    #[serde(default)]
    process: BundleProcess,
    #[serde(default)]
    linux: BundleLinux,
}

#[derive(Debug, Default, serde::Deserialize)]
struct BundleProcess {
    #[serde(default)]
    terminal: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleLinux {
    cgroups_path: Option<String>,
}

fn bundle_config(bundle: &Path) -> BundleConfig {
    std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Creates the container; returns the shim state ready to serve.
fn create(opts: ShimOptions) -> Result<Shim, ShimError> {
    let rt = RuntimeCmd {
        binary: opts.runtime.clone(),
        root: opts.runtime_root.clone(),
        systemd_cgroup: opts.systemd_cgroup,
        log: opts.state_dir.join("runtime.log"),
    };
    let config = bundle_config(&opts.bundle);
    let tty = config.process.terminal;
    let pid_file = opts.state_dir.join("init.pid");
    let mut cmd = rt.command();
    cmd.arg("create").arg("--bundle").arg(&opts.bundle).arg("--pid-file").arg(&pid_file);
    let (mut io, console) = give_stdio(&mut cmd, tty, opts.stdin, opts.state_dir.join("console.sock"))?;
    cmd.arg(&opts.id);
    // `cmd` (and with it our copies of the child's pipe ends) is dropped inside: EOF can be seen.
    let starter = match rt.create(cmd) {
        Ok(s) => s,
        Err(e) => {
            let _ = rt.delete(&opts.id);
            return Err(e);
        }
    };
    take_stdio(&mut io, console)?;
    let init = read_pid(&pid_file)?;
    let log = match &opts.log_path {
        Some(p) => Some(JsonFileLog::open(p, opts.rotation)?),
        None => None,
    };
    Ok(Shim {
        opts,
        rt,
        init,
        tty,
        cgroups_path: config.linux.cgroups_path,
        io,
        log,
        clients: Vec::new(),
        next_client: 0,
        execs: HashMap::new(),
        started_at: None,
        init_exit: None,
        starter,
    })
}

/// Runs the shim for one container until it has exited and its exit is recorded. `ready` gets
/// the ready line once the container is created (or the error if it cannot be).
pub fn serve(opts: ShimOptions, mut ready: File) -> i32 {
    let _ = berth_sys::set_child_subreaper();
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let _ = mask.thread_block();
    // A client that goes away must not kill us with SIGPIPE.
    // SAFETY: setting a signal's disposition to SIG_IGN touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let setup = (|| -> Result<(Shim, UnixListener, SignalFd), ShimError> {
        std::fs::create_dir_all(&opts.state_dir)?;
        let sock = opts.state_dir.join(SOCKET);
        let _ = std::fs::remove_file(&sock);
        let listener = UnixListener::bind(&sock)?;
        listener.set_nonblocking(true)?;
        let sfd = SignalFd::with_flags(
            &mask,
            nix::sys::signalfd::SfdFlags::SFD_NONBLOCK | nix::sys::signalfd::SfdFlags::SFD_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        let shim = create(opts.clone())?;
        status::write_json(
            &shim.opts.state_dir,
            SHIM_RECORD,
            &ShimRecord {
                id: shim.opts.id.clone(),
                shim_pid: std::process::id() as i32,
                init_pid: shim.init,
                tty: shim.tty,
                runtime: shim.rt.binary.display().to_string(),
                runtime_root: shim.rt.root.display().to_string(),
                bundle: shim.opts.bundle.display().to_string(),
            },
        )?;
        Ok((shim, listener, sfd))
    })();
    let (mut shim, listener, sfd) = match setup {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.write_all(ready_line(&Err(e)).as_bytes());
            let _ = std::fs::remove_file(opts.state_dir.join(SOCKET));
            return 1;
        }
    };
    let _ = ready.write_all(ready_line(&Ok((shim.init, shim.tty))).as_bytes());
    drop(ready);
    shim.run(&listener, &sfd);
    let _ = std::fs::remove_file(shim.opts.state_dir.join(SOCKET));
    0
}

impl Shim {
    fn run(&mut self, listener: &UnixListener, sfd: &SignalFd) {
        let mut drain_deadline: Option<std::time::Instant> = None;
        loop {
            // The container is done once init has exited and its output is drained (or the grace ran out).
            if self.init_exit.is_some() {
                let deadline = *drain_deadline.get_or_insert_with(|| {
                    std::time::Instant::now() + std::time::Duration::from_millis(DRAIN_MS as u64)
                });
                if !self.io.open_outputs() || std::time::Instant::now() >= deadline {
                    self.finish();
                    return;
                }
            }
            let mut fds: Vec<PollFd> = Vec::new();
            let mut tags: Vec<Tag> = Vec::new();
            fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
            tags.push(Tag::Listener);
            fds.push(PollFd::new(sfd.as_fd(), PollFlags::POLLIN));
            tags.push(Tag::Signal);
            for (which, f) in [(0u8, &self.io.master), (1, &self.io.out), (2, &self.io.err)] {
                if let Some(f) = f {
                    fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                    tags.push(Tag::InitOut(which));
                }
            }
            for (id, e) in &self.execs {
                for (which, f) in [(0u8, &e.io.master), (1, &e.io.out), (2, &e.io.err)] {
                    if let Some(f) = f {
                        fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                        tags.push(Tag::ExecOut(id.clone(), which));
                    }
                }
            }
            for (i, c) in self.clients.iter().enumerate() {
                let mut ev = PollFlags::POLLIN;
                if !c.outbuf.is_empty() {
                    ev |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(c.sock.as_fd(), ev));
                tags.push(Tag::Client(i));
            }
            let timeout = if self.init_exit.is_some() { PollTimeout::from(100u8) } else { PollTimeout::NONE };
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => continue,
            }
            let ready: Vec<(Tag, PollFlags)> = fds
                .iter()
                .zip(tags)
                .filter_map(|(f, t)| f.revents().filter(|r| !r.is_empty()).map(|r| (t, r)))
                .collect();
            drop(fds);
            for (tag, rev) in ready {
                match tag {
                    Tag::Listener => self.accept(listener),
                    Tag::Signal => {
                        while let Ok(Some(_)) = sfd.read_signal() {}
                        self.reap();
                    }
                    Tag::InitOut(which) => self.read_init(which),
                    Tag::ExecOut(id, which) => self.read_exec(&id, which),
                    Tag::Client(i) => {
                        if rev.contains(PollFlags::POLLOUT) {
                            self.flush_client(i);
                        }
                        if rev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                            self.read_client(i);
                        }
                    }
                }
            }
            self.finish_execs();
            let done = |c: &Client| c.dead || (matches!(c.mode, Mode::Closing) && c.outbuf.is_empty());
            self.clients.retain(|c| !done(c));
        }
    }

    fn accept(&mut self, listener: &UnixListener) {
        while let Ok((sock, _)) = listener.accept() {
            let _ = sock.set_nonblocking(true);
            self.next_client += 1;
            self.clients.push(Client {
                id: self.next_client,
                sock,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                mode: Mode::Control,
                dead: false,
            });
        }
    }

    fn reap(&mut self) {
        loop {
            let (pid, code) = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, c)) => (p.as_raw(), c),
                Ok(WaitStatus::Signaled(p, s, _)) => (p.as_raw(), 128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            if pid == self.init {
                self.init_exit = Some((code, now_rfc3339()));
            } else if let Some(e) = self.execs.values_mut().find(|e| e.pid == pid) {
                e.exit = Some(code);
            }
        }
    }

    fn read_init(&mut self, which: u8) {
        let mut buf = [0u8; 32 * 1024];
        let Some(n) = read_output(self.io.slot(which), &mut buf) else { return };
        let stream = if which == 2 { STDERR } else { STDOUT };
        if let Some(log) = &mut self.log {
            let _ = log.write(stream == STDERR, &buf[..n]);
        }
        for c in &mut self.clients {
            if let Mode::Attached { stdout, stderr, .. } = c.mode {
                if (stream == STDOUT && stdout) || (stream == STDERR && stderr) {
                    queue_frame(c, stream, &buf[..n]);
                }
            }
        }
    }

    fn read_exec(&mut self, id: &str, which: u8) {
        let mut buf = [0u8; 32 * 1024];
        let Some(e) = self.execs.get_mut(id) else { return };
        let Some(n) = read_output(e.io.slot(which), &mut buf) else { return };
        if let Some(c) = e.client.and_then(|id| self.clients.iter_mut().find(|c| c.id == id)) {
            queue_frame(c, if which == 2 { STDERR } else { STDOUT }, &buf[..n]);
        }
    }

    /// An exec that exited and whose output is drained sends its exit status and ends.
    fn finish_execs(&mut self) {
        let done: Vec<String> = self
            .execs
            .iter()
            .filter(|(_, e)| e.exit.is_some() && !e.io.open_outputs())
            .map(|(k, _)| k.clone())
            .collect();
        for id in done {
            let e = self.execs.remove(&id).expect("listed above");
            if let Some(c) = e.client.and_then(|id| self.clients.iter_mut().find(|c| c.id == id)) {
                let st = ExitStatus {
                    exit_code: e.exit.unwrap_or(0),
                    finished_at: now_rfc3339(),
                    ..Default::default()
                };
                queue_frame(c, SYSTEM, &serde_json::to_vec(&st).unwrap_or_default());
                c.mode = Mode::Closing;
            }
            let _ = std::fs::remove_file(self.opts.state_dir.join(format!("exec-{id}.json")));
            let _ = std::fs::remove_file(self.opts.state_dir.join(format!("exec-{id}.pid")));
        }
    }

    fn flush_client(&mut self, i: usize) {
        let c = &mut self.clients[i];
        while !c.outbuf.is_empty() {
            match c.sock.write(&c.outbuf) {
                Ok(0) => {
                    c.dead = true;
                    return;
                }
                Ok(n) => {
                    c.outbuf.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    c.dead = true;
                    return;
                }
            }
        }
    }

    fn read_client(&mut self, i: usize) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.clients[i].sock.read(&mut buf) {
                Ok(0) => {
                    self.client_gone(i);
                    return;
                }
                Ok(n) => self.clients[i].inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.client_gone(i);
                    return;
                }
            }
        }
        self.process_input(i);
    }

    fn client_gone(&mut self, i: usize) {
        self.clients[i].dead = true;
        let id = self.clients[i].id;
        for e in self.execs.values_mut() {
            if e.client == Some(id) {
                e.client = None;
            }
        }
    }

    fn process_input(&mut self, i: usize) {
        loop {
            match self.clients[i].mode {
                Mode::Control => {
                    let Some(nl) = self.clients[i].inbuf.iter().position(|b| *b == b'\n') else { return };
                    let line: Vec<u8> = self.clients[i].inbuf.drain(..=nl).collect();
                    let resp = match serde_json::from_slice::<Request>(&line) {
                        Ok(req) => self.handle(i, req),
                        Err(e) => Some(Response::err("invalid", format!("bad request: {e}"))),
                    };
                    if let Some(r) = resp {
                        let mut text = serde_json::to_vec(&r).unwrap_or_default();
                        text.push(b'\n');
                        self.clients[i].outbuf.extend_from_slice(&text);
                    }
                }
                Mode::Attached { stdin: true, .. } | Mode::Exec(_) => {
                    let inbuf = std::mem::take(&mut self.clients[i].inbuf);
                    let (frames, used) = parse_frames(&inbuf);
                    let exec =
                        if let Mode::Exec(id) = &self.clients[i].mode { Some(id.clone()) } else { None };
                    for (stream, data) in frames {
                        if stream != STDIN {
                            continue;
                        }
                        let io = match &exec {
                            Some(id) => self.execs.get_mut(id).map(|e| &mut e.io),
                            None => Some(&mut self.io),
                        };
                        if let Some(io) = io {
                            write_stdin(io, data);
                        }
                    }
                    self.clients[i].inbuf = inbuf[used..].to_vec();
                    return;
                }
                _ => {
                    self.clients[i].inbuf.clear();
                    return;
                }
            }
        }
    }

    fn handle(&mut self, i: usize, req: Request) -> Option<Response> {
        let running = self.init_exit.is_none();
        Some(match req {
            Request::Start => {
                if self.started_at.is_some() {
                    return Some(Response::err("conflict", "container already started"));
                }
                let started = match self.starter.take() {
                    Some(mut s) => berth_sys::handoff::start(&mut s)
                        .map_err(|e| ShimError::Runtime(format!("start: {e}"))),
                    None => self.rt.start(&self.opts.id),
                };
                match started {
                    Ok(()) => {
                        self.started_at = Some(now_rfc3339());
                        Response { pid: Some(self.init), ..Response::ok() }
                    }
                    Err(e) => Response::err("runtime", e.to_string()),
                }
            }
            Request::State => {
                let status = match (&self.init_exit, &self.started_at) {
                    (Some(_), _) => "stopped",
                    (None, Some(_)) => "running",
                    (None, None) => "created",
                };
                Response {
                    pid: Some(self.init),
                    status: Some(status.into()),
                    tty: Some(self.tty),
                    ..Response::ok()
                }
            }
            Request::Signal { signal, all } => {
                if !running {
                    return Some(Response::err("conflict", "container is not running"));
                }
                let res = if all {
                    self.rt.kill_all(&self.opts.id, signal).map_err(|e| e.to_string())
                } else {
                    Signal::try_from(signal)
                        .map_err(|_| format!("invalid signal {signal}"))
                        .and_then(|s| kill(Pid::from_raw(self.init), s).map_err(|e| e.to_string()))
                };
                match res {
                    Ok(()) => Response::ok(),
                    Err(e) => Response::err("runtime", e),
                }
            }
            Request::Wait => {
                self.clients[i].mode = Mode::Waiting;
                return None;
            }
            Request::Attach { stdin, stdout, stderr } => {
                self.clients[i].mode = Mode::Attached { stdin, stdout, stderr: stderr && !self.tty };
                Response { tty: Some(self.tty), ..Response::ok() }
            }
            Request::Resize { height, width, exec_id } => {
                let master = match &exec_id {
                    Some(id) => self.execs.get(id).and_then(|e| e.io.master.as_ref()),
                    None => self.io.master.as_ref(),
                };
                match master {
                    Some(m) => match berth_sys::set_winsize(m.as_fd(), height, width) {
                        Ok(()) => Response::ok(),
                        Err(e) => Response::err("runtime", format!("resize: {e}")),
                    },
                    None => Response::err("conflict", "cannot resize: the process has no tty"),
                }
            }
            Request::Exec { exec_id, process, stdin, detach } => {
                if !running || self.started_at.is_none() {
                    return Some(Response::err(
                        "conflict",
                        format!("container {} is not running", self.opts.id),
                    ));
                }
                if self.execs.contains_key(&exec_id) {
                    return Some(Response::err("conflict", format!("exec {exec_id} is already running")));
                }
                match self.exec(&exec_id, &process, stdin) {
                    Ok((pid, tty)) => {
                        if let Some(e) = self.execs.get_mut(&exec_id) {
                            if !detach {
                                e.client = Some(self.clients[i].id);
                            }
                        }
                        if !detach {
                            self.clients[i].mode = Mode::Exec(exec_id);
                        }
                        Response { pid: Some(pid), tty: Some(tty), ..Response::ok() }
                    }
                    Err(e) => Response::err("runtime", e.to_string()),
                }
            }
            Request::Stats => {
                if !running {
                    return Some(Response::err("conflict", "container is not running"));
                }
                match self.rt.stats(&self.opts.id) {
                    Ok(s) => Response { stats: Some(s), ..Response::ok() },
                    Err(e) => Response::err("runtime", e.to_string()),
                }
            }
            Request::Pause | Request::Resume | Request::Update { .. } | Request::Top if !running => {
                Response::err("conflict", format!("container {} is not running", self.opts.id))
            }
            Request::Pause | Request::Resume => {
                let verb = if req == Request::Pause { "pause" } else { "resume" };
                match self.rt.freeze(&self.opts.id, verb) {
                    Ok(()) => Response::ok(),
                    Err(e) => Response::err("runtime", e.to_string()),
                }
            }
            Request::Update { resources } => {
                match self.rt.update(&self.opts.id, &resources, &self.opts.state_dir.join("resources.json")) {
                    Ok(()) => Response::ok(),
                    Err(e) => Response::err("runtime", e.to_string()),
                }
            }
            Request::Top => match self.rt.pids(&self.opts.id) {
                Ok(p) => Response { pids: Some(p), ..Response::ok() },
                Err(e) => Response::err("runtime", e.to_string()),
            },
        })
    }

    fn exec(&mut self, id: &str, process: &serde_json::Value, stdin: bool) -> Result<(i32, bool), ShimError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ShimError::InvalidArgument(format!("invalid exec id {id:?}")));
        }
        let tty = process["terminal"].as_bool().unwrap_or(false);
        let dir = &self.opts.state_dir;
        let proc_file = dir.join(format!("exec-{id}.json"));
        let pid_file = dir.join(format!("exec-{id}.pid"));
        std::fs::write(
            &proc_file,
            serde_json::to_vec(process).map_err(|e| ShimError::Protocol(e.to_string()))?,
        )?;
        let mut cmd = self.rt.command();
        cmd.arg("exec").arg("--detach").arg("--pid-file").arg(&pid_file).arg("--process").arg(&proc_file);
        let (mut io, console) = give_stdio(&mut cmd, tty, stdin, dir.join(format!("exec-{id}.sock")))?;
        cmd.arg(&self.opts.id);
        self.rt.status(cmd, "exec")?;
        take_stdio(&mut io, console)?;
        let pid = read_pid(&pid_file)?;
        self.execs.insert(id.to_string(), Exec { pid, io, client: None, exit: None });
        // It may have exited already, before we knew its pid.
        self.reap();
        Ok((pid, tty))
    }

    /// The container has exited: record it, tell the waiters, then clean up through the
    /// runtime. Waiters learn of the exit before the runtime's `delete` runs (a process of its
    /// own, some milliseconds), and see the shim's connections close once it has: the daemon
    /// waits for that before it starts the container again or calls it removed.
    fn finish(&mut self) {
        if let Some(log) = &mut self.log {
            let _ = log.flush_partial();
        }
        let (code, finished_at) = self.init_exit.clone().unwrap_or((0, now_rfc3339()));
        let oom_killed = self.cgroups_path.as_deref().is_some_and(|p| oom_kills(p) > 0);
        let st = ExitStatus {
            exit_code: code,
            oom_killed,
            started_at: self.started_at.clone().unwrap_or_default(),
            finished_at,
        };
        let _ = status::write_json(&self.opts.state_dir, EXIT_RECORD, &st);
        let waiters: Vec<u64> =
            self.clients.iter().filter(|c| matches!(c.mode, Mode::Waiting)).map(|c| c.id).collect();
        for c in &mut self.clients {
            match c.mode {
                Mode::Waiting => {
                    let mut text = serde_json::to_vec(&Response { exit: Some(st.clone()), ..Response::ok() })
                        .unwrap_or_default();
                    text.push(b'\n');
                    c.outbuf.extend_from_slice(&text);
                }
                Mode::Attached { .. } | Mode::Exec(_) => {}
                _ => continue,
            }
            c.mode = Mode::Closing;
        }
        // Write what is pending, blocking briefly; a client that does not read is left behind.
        for c in &mut self.clients {
            let _ = c.sock.set_nonblocking(false);
            let _ = c.sock.set_write_timeout(Some(std::time::Duration::from_millis(500)));
            let _ = c.sock.write_all(&c.outbuf);
        }
        // Attached clients see their streams end now; waiters keep the connection until the
        // runtime is done. The daemon may remove the state directory meanwhile, so the
        // runtime's log goes nowhere: its errors here were never reported anyway.
        for c in self.clients.iter().filter(|c| !waiters.contains(&c.id)) {
            let _ = c.sock.shutdown(std::net::Shutdown::Both);
        }
        // A `create` still waiting to start the container leaves when its socket closes.
        self.starter = None;
        let quiet = RuntimeCmd { log: PathBuf::from("/dev/null"), ..self.rt.clone() };
        let _ = quiet.delete(&self.opts.id);
    }
}

enum Tag {
    Listener,
    Signal,
    InitOut(u8),
    ExecOut(String, u8),
    Client(usize),
}

fn queue_frame(c: &mut Client, stream: u8, data: &[u8]) {
    if c.outbuf.len() > MAX_CLIENT_BACKLOG {
        c.dead = true;
        return;
    }
    c.outbuf.extend_from_slice(&frame_header(stream, data.len()));
    c.outbuf.extend_from_slice(data);
    // Try to write at once; POLLOUT takes the rest.
    while !c.outbuf.is_empty() {
        match c.sock.write(&c.outbuf) {
            Ok(n) if n > 0 => {
                c.outbuf.drain(..n);
            }
            _ => break,
        }
    }
}

/// How many times the kernel OOM-killed a process of the container (cgroup v1 or v2).
fn oom_kills(cgroups_path: &str) -> u64 {
    let rel = cgroups_path.trim_start_matches('/');
    let candidates = [
        (PathBuf::from("/sys/fs/cgroup/memory").join(rel).join("memory.oom_control"), "oom_kill "),
        (PathBuf::from("/sys/fs/cgroup").join(rel).join("memory.events"), "oom_kill "),
    ];
    for (file, key) in candidates {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Some(n) =
                text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().parse().ok())
            {
                return n;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_read_takes_what_the_shim_needs() {
        let dir = std::env::temp_dir().join(format!("berth-shim-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            (
                r#"{"ociVersion":"1.0.2","process":{"terminal":true,"args":["sh"]},"linux":{"cgroupsPath":"/berth/abc","seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}}}"#,
                true,
                Some("/berth/abc"),
            ),
            (r#"{"process":{"args":["true"]},"linux":{}}"#, false, None),
            (r#"{}"#, false, None),
            ("not json", false, None),
        ];
        for (text, tty, cgroups) in cases {
            std::fs::write(dir.join("config.json"), text).unwrap();
            let c = bundle_config(&dir);
            assert_eq!(c.process.terminal, tty, "{text}");
            assert_eq!(c.linux.cgroups_path.as_deref(), cgroups, "{text}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
