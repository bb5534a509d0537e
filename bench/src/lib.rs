//! The parts of the throughput benchmark shared by its binaries; see `bench/README.md`.

pub mod cleanup;
pub mod client;
pub mod cpu;
pub mod entry;
pub mod loadgen;
pub mod pg;
pub mod process;
pub mod report;
