//! Compiles `grammar/loam.lalrpop` into `$OUT_DIR/loam.rs`, which
//! `syntax/mod.rs` includes as the `grammar` module.

fn main() {
    let out_dir = match std::env::var("OUT_DIR") {
        Ok(dir) => dir,
        Err(e) => panic!("cargo did not set OUT_DIR: {e}"),
    };
    if let Err(e) = lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .set_out_dir(out_dir)
        .emit_rerun_directives(true)
        .process()
    {
        panic!("cannot build the grammar: {e}");
    }
}
