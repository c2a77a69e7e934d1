//! The builtins' names and numbers: the contract between the compiler
//! (which resolves names to numbers) and the VM (which dispatches on them).

macro_rules! builtins {
    ($($variant:ident = $name:literal,)*) => {
        /// Every builtin of section 6; its number is its position.
        #[repr(u16)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Builtin { $($variant,)* }

        /// The builtins' names, by number.
        pub const NAMES: &[&str] = &[$($name,)*];

        impl Builtin {
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant,)*];

            #[inline]
            pub fn from_id(id: u16) -> Option<Builtin> {
                Builtin::ALL.get(id as usize).copied()
            }
        }
    };
}

builtins! {
    Print = "print",
    Str = "str",
    Int = "int",
    Float = "float",
    Type = "type",
    Len = "len",
    Push = "push",
    Pop = "pop",
    Fill = "fill",
    Keys = "keys",
    Has = "has",
    Del = "del",
    Split = "split",
    Join = "join",
    Substr = "substr",
    Abs = "abs",
    Min = "min",
    Max = "max",
    Floor = "floor",
    Sqrt = "sqrt",
    Args = "args",
    Clock = "clock",
    Assert = "assert",
    Error = "error",
    Free = "free",
    Gc = "gc",
    HeapStats = "heap_stats",
    Inspect = "inspect",
    Backends = "backends",
    Spawn = "spawn",
    Send = "send",
    Recv = "recv",
    SelfPid = "self",
    Monitor = "monitor",
    Sleep = "sleep",
    Byte = "byte",
    Chr = "chr",
    Find = "find",
    Replace = "replace",
    Upper = "upper",
    Lower = "lower",
    Trim = "trim",
    StartsWith = "starts_with",
    EndsWith = "ends_with",
    Format = "format",
    Sort = "sort",
    Reverse = "reverse",
    Insert = "insert",
    Remove = "remove",
    Slice = "slice",
    Ceil = "ceil",
    Round = "round",
    Sin = "sin",
    Cos = "cos",
    Tan = "tan",
    Asin = "asin",
    Acos = "acos",
    Atan = "atan",
    Atan2 = "atan2",
    Exp = "exp",
    Log = "log",
    Pow = "pow",
    ReadLine = "read_line",
    // Internal: only the runtime's own Loam code (`compiler/sort.loam`) can name these.
    SortCheck = "__sort_check",
    SortStore = "__sort_store",
}

/// Builtins only the runtime's own Loam code can name (`__` names).
pub fn is_internal(id: u16) -> bool {
    NAMES.get(id as usize).is_some_and(|n| n.starts_with("__"))
}

/// The number of the builtin called `name`.
pub fn lookup(name: &str) -> Option<u16> {
    NAMES.iter().position(|n| *n == name).map(|i| i as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_agree() {
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i);
            assert_eq!(lookup(NAMES[i]), Some(i as u16));
        }
        assert_eq!(lookup("self"), Some(Builtin::SelfPid as u16));
        assert_eq!(lookup("nope"), None);
    }
}
