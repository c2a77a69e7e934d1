//! The process runtime as the VM's [`Host`]: a process's [`ProcCtx`] (its
//! pid, its entry in the process table, the runtime) answers the VM's
//! requests to spawn, send, receive and monitor.

use super::new_process;
use super::runtime::{Pid, ProcCtx};
use crate::bytecode::chunk::Program;
use crate::heap::copy::Message;
use crate::heap::segment::PoolStats;
use crate::heap::{Backend, HeapConfig};
use crate::vm::host::Host;
use std::sync::Arc;
use std::time::Instant;

impl Host for ProcCtx {
    fn pid(&self) -> Pid {
        self.pid
    }

    fn started(&self) -> Instant {
        self.rt.start
    }

    fn program(&self) -> Arc<Program> {
        self.rt.program()
    }

    fn program_version(&self) -> u64 {
        self.rt.program_version()
    }

    fn pool_stats(&self) -> PoolStats {
        self.rt.pool.stats()
    }

    fn spawn_defaults(&self) -> (Backend, HeapConfig) {
        (self.rt.cfg.backend, self.rt.cfg.heap)
    }

    fn spawn(&self, backend: Backend, heap: HeapConfig, start: Message) -> Pid {
        let rt = &self.rt;
        let child = rt.spawn(backend, |pid, entry| {
            new_process(rt, backend, heap, pid, entry, start)
        });
        if let Some(t) = &rt.vm_opts.trace {
            t.spawn(self.pid, self.entry.backend, child, backend);
        }
        child
    }

    fn send(&self, to: Pid, msg: Message) {
        self.rt.send(to, msg);
    }

    fn receive(&self) -> Option<Message> {
        self.rt.take_message(&self.entry)
    }

    fn unreceive(&self, msg: Message) {
        self.rt.unget_message(&self.entry, msg);
    }

    fn monitor(&self, p: Pid) {
        self.rt.monitor(p, self.pid);
    }

    fn read_line(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        self.rt.cfg.input.read_line(buf)
    }
}
