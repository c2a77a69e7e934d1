//! Bytecode: the instruction set, compiled functions and programs, and the
//! disassembler behind `--dis`.

pub mod builtins;
pub mod chunk;
pub mod disasm;
pub mod opcode;
pub mod verify;
