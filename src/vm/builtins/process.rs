//! Process builtins (section 9): spawn, send, recv, self, monitor, sleep.
//!
//! A builtin that must wait (`recv` on an empty mailbox, `sleep`) returns
//! `Trap::Block`; the VM stops at that instruction and runs it again when
//! the scheduler resumes the process. The deadline of a `recv(ms)` or a
//! `sleep(ms)` is kept in the VM (`wait_until`) across those runs, and
//! cleared when the instruction completes.

use super::{arity, bad_arg};
use crate::heap::copy::Message;
use crate::heap::{Backend, Heap, HeapConfig};
use crate::value::Value;
use crate::vm::error::{Trap, err};
use crate::vm::{Block, Vm};
use std::time::{Duration, Instant};

fn no_runtime<T>(name: &str) -> Result<T, Trap> {
    err(format!("{name}() needs the process runtime"))
}

pub fn self_pid<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("self", args, 0, 0)?;
    Ok(Value::Pid(vm.pid()))
}

/// The options map of `spawn(f, opts)`: a backend and a heap bound.
fn spawn_options<H: Heap>(vm: &Vm<H>, opts: Option<&Value>) -> Result<(Backend, HeapConfig), Trap> {
    let defaults = vm.host.as_ref().map(|h| h.spawn_defaults());
    let (mut backend, mut heap) = defaults.unwrap_or((H::BACKEND, HeapConfig::default()));
    let Some(opts) = opts else {
        return Ok((backend, heap));
    };
    let Some(m) = opts.as_map() else {
        return err(format!(
            "invalid spawn option: expected a map of options, got {}",
            opts.type_name()
        ));
    };
    for (k, v) in m.entries() {
        let key = k
            .as_str()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        match key.as_str() {
            "gc" => {
                let name = v
                    .as_str()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                backend = Backend::parse(&name).ok_or_else(|| {
                    Trap::Error(format!(
                        "invalid spawn option: \"gc\" must be {}, not {name:?}",
                        Backend::choices()
                    ))
                })?;
            }
            "max_heap" => match v {
                Value::Int(n) if n > 0 => heap.max_heap = Some(n as usize),
                _ => {
                    return err(
                        "invalid spawn option: \"max_heap\" must be a positive int (bytes)",
                    );
                }
            },
            _ => {
                let mut shown = String::new();
                vm.formats_raw(k, &mut shown);
                return err(format!("invalid spawn option: unknown key {shown}"));
            }
        }
    }
    Ok((backend, heap))
}

pub fn spawn<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("spawn", args, 1, 2)?;
    let f = args[0];
    let arity_ok = f
        .as_closure()
        .and_then(|c| vm.program.protos.get(c.proto() as usize))
        .map(|p| p.arity == 0 || p.native.is_some());
    if arity_ok != Some(true) {
        return bad_arg("spawn", "a function of no arguments", &f);
    }
    let (backend, heap) = spawn_options(vm, args.get(1))?;
    let Some(host) = &vm.host else {
        return no_runtime("spawn");
    };
    let msg = Message::capture(&vm.heap, f)?;
    Ok(Value::Pid(host.spawn(backend, heap, msg)))
}

pub fn send<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("send", args, 2, 2)?;
    let Value::Pid(to) = args[0] else {
        return bad_arg("send", "a pid", &args[0]);
    };
    let msg = match Message::immediate(args[1]) {
        Some(m) => m,
        None => Message::capture(&vm.heap, args[1])?,
    };
    // What this process printed comes out before anything the receiver prints.
    vm.flush();
    let Some(host) = &vm.host else {
        return no_runtime("send");
    };
    host.send(to, msg);
    Ok(Value::Nil)
}

fn millis(name: &str, v: &Value) -> Result<Duration, Trap> {
    let ms = match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) if f.is_finite() => *f,
        _ => return bad_arg(name, "a number of milliseconds", v),
    };
    Ok(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
}

/// The deadline of the wait this instruction is in (set on its first run).
fn deadline<H: Heap>(vm: &mut Vm<H>, wait: Duration) -> Instant {
    *vm.wait_until.get_or_insert_with(|| Instant::now() + wait)
}

pub fn recv<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("recv", args, 0, 1)?;
    let wait = args.first().map(|v| millis("recv", v)).transpose()?;
    let Some(host) = &vm.host else {
        return no_runtime("recv");
    };
    if let Some(msg) = host.receive() {
        return match msg.build(&mut vm.heap) {
            Ok(v) => {
                vm.wait_until = None;
                vm.refresh_program();
                Ok(v)
            }
            Err(e) => {
                // Back in the mailbox: the VM collects and runs recv again.
                host.unreceive(msg);
                Err(e.into())
            }
        };
    }
    match wait {
        None => Err(Trap::Block(Block::Message(None))),
        Some(w) => {
            let d = deadline(vm, w);
            if Instant::now() >= d {
                vm.wait_until = None;
                Ok(Value::Nil)
            } else {
                Err(Trap::Block(Block::Message(Some(d))))
            }
        }
    }
}

pub fn sleep<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("sleep", args, 1, 1)?;
    let w = millis("sleep", &args[0])?;
    let d = deadline(vm, w);
    if Instant::now() >= d {
        vm.wait_until = None;
        return Ok(Value::Nil);
    }
    Err(Trap::Block(Block::Sleep(d)))
}

pub fn monitor<H: Heap>(vm: &mut Vm<H>, args: &[Value]) -> Result<Value, Trap> {
    arity("monitor", args, 1, 1)?;
    let Value::Pid(p) = args[0] else {
        return bad_arg("monitor", "a pid", &args[0]);
    };
    let Some(host) = &vm.host else {
        return no_runtime("monitor");
    };
    host.monitor(p);
    Ok(Value::Nil)
}
