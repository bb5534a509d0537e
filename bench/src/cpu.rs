//! How busy each core was, from `/proc/stat`: the part of a core the measured processes did not
//! use went to something else on the machine (another build, PostgreSQL, the hypervisor), which
//! is how a noisy run shows itself.

use std::time::Duration;

/// Busy and total time of cores 0 and 1 at one moment, in ticks.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreTimes {
    busy: [u64; 2],
    total: [u64; 2],
}

impl CoreTimes {
    pub fn now() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    fn parse(stat: &str) -> Option<Self> {
        let mut times = CoreTimes::default();
        for core in 0..2 {
            let prefix = format!("cpu{core} ");
            let line = stat.lines().find(|line| line.starts_with(&prefix))?;
            let fields: Vec<u64> = line[prefix.len()..]
                .split_whitespace()
                .map(|n| n.parse().ok())
                .collect::<Option<_>>()?;
            // user nice system idle iowait irq softirq steal (guest time is inside user).
            let total: u64 = fields.iter().take(8).sum();
            // Interrupt time is left out: most of it is the benchmark's own loopback traffic,
            // which the processes' own CPU times do not include.
            let not_busy = fields.get(3)? + fields.get(4)? + fields.get(5)? + fields.get(6)?;
            times.busy[core] = total - not_busy;
            times.total[core] = total;
        }
        Some(times)
    }

    /// The fraction of each core's time that was busy between `self` and `later`.
    pub fn busy_since(&self, later: &CoreTimes) -> [Option<f64>; 2] {
        [0, 1].map(|core| {
            let total = later.total[core].checked_sub(self.total[core])?;
            let busy = later.busy[core].checked_sub(self.busy[core])?;
            (total > 0).then(|| busy as f64 / total as f64)
        })
    }
}

/// utime + stime from a `/proc/PID/stat` line. They are fields 14 and 15, counted after the
/// command name, which is in parentheses and may itself contain spaces.
pub fn process_time(stat: &str) -> Option<Duration> {
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    const TICKS_PER_SEC: u64 = 100;
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // fields[0] is field 3 (state), so field N is fields[N - 3].
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SEC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_from_proc_stat() {
        let stat =
            "4242 (addressbook (x)) S 1 4242 4242 0 -1 4194304 900 0 0 0 250 70 0 0 20 0 2 0";
        assert_eq!(process_time(stat), Some(Duration::from_millis(3200)));
        assert_eq!(process_time("garbage"), None);
    }

    #[test]
    fn busy_fraction_per_core() {
        let before = CoreTimes::parse(
            "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\ncpu1 0 0 0 1000 0 0 0 0 0 0\n",
        )
        .unwrap();
        let after = CoreTimes::parse(
            "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 150 0 150 900 0 0 0 0 0 0\ncpu1 0 0 10 1090 0 0 0 0 0 0\n",
        )
        .unwrap();
        let [core0, core1] = before.busy_since(&after);
        assert_eq!(core0, Some(0.5));
        assert_eq!(core1, Some(0.1));
        assert!(CoreTimes::parse("cpu0 1 2 3").is_none());
    }
}
