//! The builtins' names and numbers, shared by the compiler (which resolves
//! names to them) and the VM (which dispatches on the number).

/// Every builtin of section 6, by number.
pub const NAMES: &[&str] = &[
    "print",
    "str",
    "int",
    "float",
    "type",
    "len",
    "push",
    "pop",
    "fill",
    "keys",
    "has",
    "del",
    "split",
    "join",
    "substr",
    "abs",
    "min",
    "max",
    "floor",
    "sqrt",
    "args",
    "clock",
    "assert",
    "error",
    "free",
    "gc",
    "heap_stats",
    "inspect",
    "spawn",
    "send",
    "recv",
    "self",
    "monitor",
    "sleep",
];

/// The number of the builtin called `name`.
pub fn lookup(name: &str) -> Option<u16> {
    NAMES.iter().position(|n| *n == name).map(|i| i as u16)
}
