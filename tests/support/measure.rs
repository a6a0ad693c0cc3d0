//! What a process has used, read from `/proc`: CPU, page faults and peak
//! memory. The whole-process benchmarks measure the forwarder with these.

use std::time::Duration;

/// CPU a process has used so far, all live threads, in nanoseconds from
/// the scheduler (`/proc/<pid>/task/*/schedstat`); the clock ticks of
/// `stat` count in 10 ms steps, too coarse for a few invocations. Threads
/// that ended are not counted: the forwarder's runtime has one thread.
pub fn process_cpu(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return process_cpu_ticks(pid);
    };
    let mut total = Duration::ZERO;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            return process_cpu_ticks(pid);
        };
        let ns: u64 = stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        total += Duration::from_nanos(ns);
    }
    total
}

/// CPU seconds (user + system) a process has used so far, all threads,
/// in clock ticks.
fn process_cpu_ticks(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_secs_f64(ticks as f64 / per_second as f64)
}

/// Minor page faults of a process so far: each is a fresh page the kernel
/// had to zero, the cost of buffers the allocator gave back between
/// invocations.
pub fn minor_faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    rest.split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .expect("minflt in /proc/<pid>/stat")
}

pub fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}
