//! Binds the system DPDK at build time.
//!
//! 1. pkg-config finds `libdpdk` (Debian: libdpdk-dev) and gives include paths, the cflags DPDK
//!    was built for (`-include rte_config.h -march=corei7` on Debian) and the link flags.
//! 2. bindgen reads `wrapper.h` with those cflags; only `rte_*` / `RTE_*` / `cidlb_*` items
//!    are kept. Nothing generated is committed: it always matches the installed DPDK.
//! 3. `cc` compiles `shim.c` (exported wrappers of DPDK's static-inline fast path) with the
//!    same pkg-config cflags, never with `-march=native`, so the binary runs where DPDK does.
//!
//! Drivers (PMDs): Debian builds DPDK as shared libraries, and its EAL loads every driver in
//! its plugin directory (RTE_EAL_PMD_PATH, `/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0` for
//! 22.11) during `rte_eal_init`, once it sees it is a shared build. So `--vdev=net_pcap0,...`,
//! `net_null`, `net_ring`, `net_memif`, `net_af_packet`, `net_tap` and the `ring` mempool
//! handler all work without linking them here; we link only the libraries pkg-config names.
//! On a static DPDK build, or to load drivers from elsewhere, pass `-d <dir or .so>` in
//! `[eal] args`.

use std::env;
use std::path::PathBuf;

const INSTALL_HINT: &str = "install DPDK's development files and libclang: \
`apt-get install libdpdk-dev pkg-config clang libclang-dev` (or build without DPDK: \
`cargo build --no-default-features`)";

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    // Probe without emitting link flags yet: the static shim must come before the DPDK
    // libraries on the link line (the linker uses --as-needed and resolves left to right).
    let dpdk = match pkg_config::Config::new()
        .atleast_version("22.11")
        .cargo_metadata(false)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => panic!("\n\ndpdk-sys: pkg-config cannot find DPDK >= 22.11 (libdpdk.pc): {e}\n\
            To fix: {INSTALL_HINT}\n\n"),
    };
    // Everything pkg-config says about compiling (include paths, -include rte_config.h,
    // -march=..., defines) is passed to both clang (bindgen) and cc (the shim).
    let cflags: Vec<String> = pkg_config_output(&["--cflags", "libdpdk"]);

    let mut shim = cc::Build::new();
    shim.file("shim.c").include(".").warnings(true).opt_level(2);
    for flag in &cflags {
        shim.flag(flag);
    }
    shim.compile("cidlb_dpdk_shim");

    // Now the DPDK libraries, after the shim.
    for dir in &dpdk.link_paths {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for lib in &dpdk.libs {
        println!("cargo:rustc-link-lib={lib}");
    }
    println!("cargo:version={}", dpdk.version);
    println!("cargo:rustc-env=DPDK_SYS_VERSION={}", dpdk.version);
    if let Some(inc) = dpdk.include_paths.first() {
        println!("cargo:include={}", inc.display());
    }

    let generated = std::panic::catch_unwind(|| {
        bindgen::Builder::default()
            .header("wrapper.h")
            .clang_args(cflags.iter())
            .clang_arg("-I.")
            .allowlist_function("rte_.*|cidlb_.*")
            .allowlist_type("rte_.*")
            .allowlist_var("RTE_.*|SOCKET_ID_ANY|LCORE_ID_ANY")
            // rte_flow's protocol header items are packed structs holding aligned ones, which
            // Rust cannot express; cidlb does not use rte_flow, so keep them opaque.
            .opaque_type("rte_l2tpv2_combined_msg_hdr|rte_gtp_psc_generic_hdr|rte_flow_item_.*")
            // Inline functions have no symbol in the shared libraries: the shim wraps those.
            .generate_inline_functions(false)
            .derive_default(true)
            .layout_tests(false)
            .prepend_enum_name(false)
            .default_enum_style(bindgen::EnumVariation::Consts)
            .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
            .generate()
    });
    let bindings = match generated {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => panic!("\n\ndpdk-sys: bindgen could not read the DPDK headers: {e}\nTo fix: {INSTALL_HINT}\n\n"),
        Err(_) => panic!("\n\ndpdk-sys: bindgen failed (is libclang installed?).\nTo fix: {INSTALL_HINT}\n\n"),
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings.write_to_file(out.join("bindings.rs")).expect("write bindings.rs to OUT_DIR");
}

/// pkg-config's raw output split into arguments (the `pkg_config` crate drops flags such as
/// `-include rte_config.h` and `-march`, which DPDK's headers need).
fn pkg_config_output(args: &[&str]) -> Vec<String> {
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let out = std::process::Command::new(&pkg_config).args(args).output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect(),
        Ok(o) => panic!("\n\ndpdk-sys: `{pkg_config} {}` failed: {}\nTo fix: {INSTALL_HINT}\n\n", args.join(" "), String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("\n\ndpdk-sys: cannot run `{pkg_config}`: {e}\nTo fix: {INSTALL_HINT}\n\n"),
    }
}
