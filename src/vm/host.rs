//! What the VM asks of the runtime it runs in: the [`Host`] trait. The
//! process builtins (section 9: `spawn`, `send`, `recv`, `monitor`, `self`),
//! the clock and `read_line()`'s standard input reach the world only through
//! it, so the VM knows nothing of the process table, mailboxes, schedulers
//! or where input comes from; the process runtime (`crate::process`)
//! implements it. A VM without a host (a bare `Vm::new`) runs everything but
//! the process builtins, which then fail, and reads the real stdin.

use crate::bytecode::chunk::Program;
use crate::heap::copy::Message;
use crate::heap::segment::PoolStats;
use crate::heap::{Backend, HeapConfig};
use std::io::BufRead;
use std::sync::{Arc, Mutex};
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
    /// Appends the next line of the program's input, with its line end, to
    /// `buf` (`read_line()`); `Ok(0)` at the end of input.
    fn read_line(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        Input::Stdin.read_line(buf)
    }
}

/// Where `read_line()` reads from.
#[derive(Clone, Debug, Default)]
pub enum Input {
    /// The process's standard input.
    #[default]
    Stdin,
    /// Nothing: the end of input at once (when stdin was the program itself,
    /// section 10).
    Empty,
    /// Given text, read a line at a time (tests).
    Text(Arc<Mutex<std::io::Cursor<Vec<u8>>>>),
}

impl Input {
    pub fn text(text: &str) -> Input {
        Input::Text(Arc::new(Mutex::new(std::io::Cursor::new(text.into()))))
    }

    /// Appends the next line, with its line end, to `buf`; `Ok(0)` at the end.
    /// Processes share the input: each line goes to one of them, whole.
    pub fn read_line(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            Input::Stdin => std::io::stdin().lock().read_until(b'\n', buf),
            Input::Empty => Ok(0),
            Input::Text(t) => t
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .read_until(b'\n', buf),
        }
    }
}
