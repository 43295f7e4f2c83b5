//! Docker's request types to berth's records and back: what a create or an update gave is
//! kept in `berth_records` types, and shown again (inspect) in Docker's. Field by field, so
//! that a new release of the generated types that adds or changes a field fails to build here
//! instead of changing what is stored.

use std::collections::{BTreeMap, HashMap};

use berth_records as rec;

use crate::models;

/// A conversion between one of Docker's types and one of berth's records (both ways are
/// implemented; neither type is this crate's, so `From` cannot be).
pub trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Convert<$t> for $t {
            fn convert(self) -> $t {
                self
            }
        }
    )*};
}
same!(String, i64, u16, usize, bool);

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<A: Convert<B>, B> Convert<BTreeMap<String, B>> for HashMap<String, A> {
    fn convert(self) -> BTreeMap<String, B> {
        self.into_iter().map(|(k, v)| (k, v.convert())).collect()
    }
}

impl<A: Convert<B>, B> Convert<HashMap<String, B>> for BTreeMap<String, A> {
    fn convert(self) -> HashMap<String, B> {
        self.into_iter().map(|(k, v)| (k, v.convert())).collect()
    }
}

/// Both ways between two structs with the same fields.
macro_rules! fields {
    ($a:path, $b:path, { $($f:ident),+ $(,)? }) => {
        impl Convert<$b> for $a {
            fn convert(self) -> $b {
                $b { $($f: self.$f.convert()),+ }
            }
        }
        impl Convert<$a> for $b {
            fn convert(self) -> $a {
                $a { $($f: self.$f.convert()),+ }
            }
        }
    };
}

/// Both ways between one of Docker's string enums and berth's string (or enum), through the
/// names both serialise to.
macro_rules! named {
    ($a:ty, $b:ty, $to_b:expr, $to_a:expr) => {
        impl Convert<$b> for $a {
            fn convert(self) -> $b {
                $to_b(self)
            }
        }
        impl Convert<$a> for $b {
            fn convert(self) -> $a {
                $to_a(self)
            }
        }
    };
}

named!(
    models::HostConfigCgroupnsModeEnum,
    String,
    |e: models::HostConfigCgroupnsModeEnum| e.to_string(),
    |s: String| s.parse().unwrap_or(models::HostConfigCgroupnsModeEnum::EMPTY)
);
named!(
    models::HostConfigIsolationEnum,
    String,
    |e: models::HostConfigIsolationEnum| e.to_string(),
    |s: String| s.parse().unwrap_or(models::HostConfigIsolationEnum::EMPTY)
);
named!(
    models::MountBindOptionsPropagationEnum,
    String,
    |e: models::MountBindOptionsPropagationEnum| e.to_string(),
    |s: String| s.parse().unwrap_or(models::MountBindOptionsPropagationEnum::EMPTY)
);
named!(
    models::RestartPolicyNameEnum,
    rec::RestartPolicyName,
    |e| match e {
        models::RestartPolicyNameEnum::EMPTY => rec::RestartPolicyName::Empty,
        models::RestartPolicyNameEnum::NO => rec::RestartPolicyName::No,
        models::RestartPolicyNameEnum::ALWAYS => rec::RestartPolicyName::Always,
        models::RestartPolicyNameEnum::UNLESS_STOPPED => rec::RestartPolicyName::UnlessStopped,
        models::RestartPolicyNameEnum::ON_FAILURE => rec::RestartPolicyName::OnFailure,
    },
    |e| match e {
        rec::RestartPolicyName::Empty => models::RestartPolicyNameEnum::EMPTY,
        rec::RestartPolicyName::No => models::RestartPolicyNameEnum::NO,
        rec::RestartPolicyName::Always => models::RestartPolicyNameEnum::ALWAYS,
        rec::RestartPolicyName::UnlessStopped => models::RestartPolicyNameEnum::UNLESS_STOPPED,
        rec::RestartPolicyName::OnFailure => models::RestartPolicyNameEnum::ON_FAILURE,
    }
);
named!(
    models::MountTypeEnum,
    rec::MountType,
    |e| match e {
        models::MountTypeEnum::EMPTY => rec::MountType::Empty,
        models::MountTypeEnum::BIND => rec::MountType::Bind,
        models::MountTypeEnum::VOLUME => rec::MountType::Volume,
        models::MountTypeEnum::IMAGE => rec::MountType::Image,
        models::MountTypeEnum::TMPFS => rec::MountType::Tmpfs,
        models::MountTypeEnum::NPIPE => rec::MountType::Npipe,
        models::MountTypeEnum::CLUSTER => rec::MountType::Cluster,
    },
    |e| match e {
        rec::MountType::Empty => models::MountTypeEnum::EMPTY,
        rec::MountType::Bind => models::MountTypeEnum::BIND,
        rec::MountType::Volume => models::MountTypeEnum::VOLUME,
        rec::MountType::Image => models::MountTypeEnum::IMAGE,
        rec::MountType::Tmpfs => models::MountTypeEnum::TMPFS,
        rec::MountType::Npipe => models::MountTypeEnum::NPIPE,
        rec::MountType::Cluster => models::MountTypeEnum::CLUSTER,
    }
);

fields!(models::HealthConfig, rec::HealthConfig, { test, interval, timeout, retries, start_period, start_interval });
fields!(models::ResourcesBlkioWeightDevice, rec::WeightDevice, { path, weight });
fields!(models::ThrottleDevice, rec::ThrottleDevice, { path, rate });
fields!(models::DeviceMapping, rec::DeviceMapping, { path_on_host, path_in_container, cgroup_permissions });
fields!(models::DeviceRequest, rec::DeviceRequest, { driver, count, device_ids, capabilities, options });
fields!(models::ResourcesUlimits, rec::Ulimit, { name, soft, hard });
fields!(models::HostConfigLogConfig, rec::LogConfig, { typ, config });
fields!(models::PortBinding, rec::PortBinding, { host_ip, host_port });
fields!(models::RestartPolicy, rec::RestartPolicy, { name, maximum_retry_count });
fields!(models::MountBindOptions, rec::BindOptions, {
    propagation, non_recursive, create_mountpoint, read_only_non_recursive, read_only_force_recursive
});
fields!(models::MountVolumeOptionsDriverConfig, rec::VolumeDriverConfig, { name, options });
fields!(models::MountVolumeOptions, rec::VolumeOptions, { no_copy, labels, driver_config, subpath });
fields!(models::MountImageOptions, rec::ImageOptions, { subpath });
fields!(models::MountTmpfsOptions, rec::TmpfsOptions, { size_bytes, mode, options });
fields!(models::Mount, rec::Mount, {
    target, source, typ, read_only, consistency, bind_options, volume_options, image_options, tmpfs_options
});
fields!(models::ContainerConfig, rec::ContainerConfig, {
    hostname, domainname, user, attach_stdin, attach_stdout, attach_stderr, exposed_ports, tty,
    open_stdin, stdin_once, env, cmd, healthcheck, args_escaped, image, volumes, working_dir,
    entrypoint, network_disabled, on_build, labels, stop_signal, stop_timeout, shell,
});
fields!(models::HostConfig, rec::HostConfig, {
    cpu_shares, memory, cgroup_parent, blkio_weight, blkio_weight_device, blkio_device_read_bps,
    blkio_device_write_bps, blkio_device_read_iops, blkio_device_write_iops, cpu_period, cpu_quota,
    cpu_realtime_period, cpu_realtime_runtime, cpuset_cpus, cpuset_mems, devices,
    device_cgroup_rules, device_requests, memory_reservation, memory_swap, memory_swappiness,
    nano_cpus, oom_kill_disable, init, pids_limit, ulimits, cpu_count, cpu_percent,
    io_maximum_iops, io_maximum_bandwidth, binds, container_id_file, log_config, network_mode,
    port_bindings, restart_policy, auto_remove, volume_driver, volumes_from, mounts, console_size,
    annotations, cap_add, cap_drop, cgroupns_mode, dns, dns_options, dns_search, extra_hosts,
    group_add, ipc_mode, cgroup, links, oom_score_adj, pid_mode, privileged, publish_all_ports,
    readonly_rootfs, security_opt, storage_opt, tmpfs, uts_mode, userns_mode, shm_size, sysctls,
    runtime, isolation, masked_paths, readonly_paths,
});

/// A request's `Config` as berth keeps it.
pub fn container_config(c: models::ContainerConfig) -> rec::ContainerConfig {
    c.convert()
}

/// A request's `HostConfig` as berth keeps it.
pub fn host_config(h: models::HostConfig) -> rec::HostConfig {
    h.convert()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key a full `HostConfig` and `Config` carry survives the trip to the record and
    /// back, and the record writes the same JSON Docker's types do (what berth 0.1 stored).
    #[test]
    fn a_full_config_goes_to_the_record_and_back_unchanged() {
        let hc: models::HostConfig = serde_json::from_value(serde_json::json!({
            "CpuShares": 512, "Memory": 1048576, "CgroupParent": "/x", "BlkioWeight": 300,
            "BlkioWeightDevice": [{"Path": "/dev/sda", "Weight": 10}],
            "BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 100}],
            "CpusetCpus": "0", "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "rw"}],
            "DeviceRequests": [{"Driver": "x", "Count": -1, "DeviceIDs": ["0"], "Capabilities": [["gpu"]], "Options": {"a": "b"}}],
            "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}], "Init": true,
            "Binds": ["/a:/b:ro"], "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
            "NetworkMode": "bridge", "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "81/udp": null},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "AutoRemove": false,
            "Mounts": [{"Target": "/m", "Source": "v", "Type": "volume", "ReadOnly": true,
                "VolumeOptions": {"NoCopy": true, "Labels": {"l": "1"}, "DriverConfig": {"Name": "local", "Options": {"o": "p"}}}},
                {"Target": "/t", "Type": "tmpfs", "TmpfsOptions": {"SizeBytes": 1024, "Mode": 448}},
                {"Target": "/b", "Source": "/srv", "Type": "bind", "BindOptions": {"Propagation": "rslave", "NonRecursive": true}}],
            "ConsoleSize": [24, 80], "CapAdd": ["NET_ADMIN"], "CgroupnsMode": "private",
            "Dns": ["1.1.1.1"], "ExtraHosts": ["h:1.2.3.4"], "Privileged": false, "Tmpfs": {"/run": "size=1m"},
            "UTSMode": "host", "ShmSize": 65536, "Sysctls": {"net.ipv4.ip_forward": "1"}, "Isolation": "default",
            "IOMaximumIOps": 0, "BlkioDeviceWriteIOps": [], "ContainerIDFile": "",
        }))
        .unwrap();
        let record = host_config(hc.clone());
        assert_eq!(record.restart_policy_name(), rec::RestartPolicyName::OnFailure);
        assert_eq!(serde_json::to_value(&record).unwrap(), serde_json::to_value(&hc).unwrap());
        let back: models::HostConfig = record.convert();
        assert_eq!(back, hc);

        let c: models::ContainerConfig = serde_json::from_value(serde_json::json!({
            "Hostname": "h", "User": "1:1", "ExposedPorts": {"80/tcp": {}}, "Tty": true, "Env": ["A=1"],
            "Cmd": ["sh"], "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 2},
            "Image": "busybox", "Volumes": {"/data": {}}, "WorkingDir": "/w", "Entrypoint": [],
            "OnBuild": ["RUN x"], "Labels": {"a": "b"}, "StopSignal": "SIGUSR1", "StopTimeout": 5, "Shell": ["sh", "-c"],
        }))
        .unwrap();
        let record = container_config(c.clone());
        assert_eq!(serde_json::to_value(&record).unwrap(), serde_json::to_value(&c).unwrap());
        let back: models::ContainerConfig = record.convert();
        assert_eq!(back, c);
    }
}
