//! What the VM asks of the runtime it runs in: the [`Host`] trait. The
//! process builtins (section 9: `spawn`, `send`, `recv`, `monitor`, `self`)
//! and the clock reach other processes only through it, so the VM knows
//! nothing of the process table, mailboxes or schedulers; the process
//! runtime (`crate::process`) implements it. A VM without a host (a bare
//! `Vm::new`) runs everything but the process builtins, which then fail.

use crate::bytecode::chunk::Program;
use crate::heap::copy::Message;
use crate::heap::segment::PoolStats;
use crate::heap::{Backend, HeapConfig};
use std::sync::Arc;
use std::time::Instant;

/// A process identifier (as `Value::Pid` carries it).
pub type Pid = u64;

/// The runtime as one process's VM sees it.
pub trait Host: Send {
    /// This process's pid.
    fn pid(&self) -> Pid;
    /// When the program started (`clock()` counts from here).
    fn started(&self) -> Instant;
    /// The newest version of the program (the REPL grows it); a process
    /// that receives a function of a newer program switches to it.
    fn program(&self) -> Arc<Program>;
    /// A number that changes whenever [`Host::program`] does.
    fn program_version(&self) -> u64;
    /// The shared segment pool's counters (`heap_stats()`'s `pool_*`).
    fn pool_stats(&self) -> PoolStats;
    /// The backend and heap settings of a `spawn` without options.
    fn spawn_defaults(&self) -> (Backend, HeapConfig);
    /// Starts a process of `backend` that calls the function in `start`.
    fn spawn(&self, backend: Backend, heap: HeapConfig, start: Message) -> Pid;
    /// Puts `msg` in `to`'s mailbox (nothing, if `to` has ended).
    fn send(&self, to: Pid, msg: Message);
    /// Takes the oldest message from this process's mailbox.
    fn receive(&self) -> Option<Message>;
    /// Puts a message taken by [`Host::receive`] back at the front (its copy
    /// into this heap failed; `recv` runs again after a collection).
    fn unreceive(&self, msg: Message);
    /// `monitor(p)`: this process hears when `p` ends.
    fn monitor(&self, p: Pid);
}
