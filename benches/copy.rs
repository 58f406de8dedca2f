//! How fast one CPU copies 1 MiB, by where the destination sits against the source within a
//! page: the copy a reader's recv(2) makes out of the kernel's buffers.
//!
//!   cargo bench --bench copy
//!
//! Not a criterion bench: it prints one table (stdout). Each row copies `COPY_BYTES` from a
//! source that starts `SOURCE_OFFSET` bytes into a page to a destination whose distance
//! from it, modulo the page, is the row's `(dst - src) mod 4096`. The columns:
//! - `rep movsb`: the x86-64 string copy, which Linux uses for copy_to_user and
//!   copy_from_user on CPUs with Fast Short REP MOV (FSRM; `copy_user_generic` in
//!   arch/x86/include/asm/uaccess_64.h since 6.4), so it is what recv(2) runs there;
//! - `memcpy`: the C library's (`copy_from_slice`), which picks its own method per CPU.
//!
//! Some CPUs with FSRM run `rep movsb` far slower when the destination is a few bytes past
//! the source within a page (glibc bug 30994); over loopback the reader then spends more
//! CPU per byte, and where a 1 MiB reader's buffer starts in its page moves the throughput
//! (NOTES.md, "Where in its page the reader's buffer starts"). The first line names the CPU
//! and whether it has FSRM. Each cell is the median of `ROUNDS` timings, with the lowest and
//! highest. Elsewhere than x86-64 only the memcpy column is measured.

use std::hint::black_box;
use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::{page_size, PageBuf};

/// Bytes per copy: the loopback benches' largest write.
const COPY_BYTES: usize = 1 << 20;

/// Copies per timing, after as many untimed ones.
const COPIES: usize = 200;

/// Timings per cell.
const ROUNDS: usize = 5;

/// Where the source starts in its page (any offset: only the distance matters).
const SOURCE_OFFSET: usize = 1000;

/// Distances `(dst - src) mod page` measured: around the slow window and a few far ones.
const DISTANCES: [usize; 19] = [
    0, 1, 2, 4, 8, 12, 15, 16, 20, 24, 31, 32, 48, 64, 256, 1024, 2048, 4064, 4095,
];

/// `rep movsb` of `src` into `dst`, whole.
#[cfg(target_arch = "x86_64")]
fn rep_movsb(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len());
    // SAFETY: rdi and rsi point at slices of rcx bytes each that do not overlap (one is
    // borrowed mutably); the direction flag is clear, as the ABI keeps it between calls.
    unsafe {
        std::arch::asm!(
            "rep movsb",
            inout("rcx") src.len() => _,
            inout("rdi") dst.as_mut_ptr() => _,
            inout("rsi") src.as_ptr() => _,
            options(nostack, preserves_flags),
        );
    }
}

/// GiB/s of `COPIES` copies by `copy`, after as many untimed ones.
fn rate(dst: &mut [u8], src: &[u8], copy: fn(&mut [u8], &[u8])) -> f64 {
    for _ in 0..COPIES {
        copy(black_box(&mut *dst), black_box(src));
    }
    let t0 = Instant::now();
    for _ in 0..COPIES {
        copy(black_box(&mut *dst), black_box(src));
    }
    (COPIES * src.len()) as f64 / f64::from(1 << 30) / t0.elapsed().as_secs_f64()
}

/// "12.3 (11.0 to 13.1)" over the timings.
fn cell(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} ({:.1} to {:.1})",
        values[values.len() / 2],
        values[0],
        values[values.len() - 1]
    )
}

/// The CPU's model name and whether it has FSRM and ERMS (/proc/cpuinfo), where Linux says.
fn cpu_line() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let Some(model) = field("model name") else {
        return "CPU: not known here (no /proc/cpuinfo)".to_owned();
    };
    let flags = field("flags").unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    format!(
        "CPU: {model} (family {}, model {}), FSRM {}, ERMS {}",
        field("cpu family").unwrap_or_else(|| "?".into()),
        field("model").unwrap_or_else(|| "?".into()),
        if has("fsrm") { "yes" } else { "no" },
        if has("erms") { "yes" } else { "no" },
    )
}

fn main() {
    let page = page_size();
    println!(
        "{}; {} KiB per copy, {COPIES} copies per timing, {ROUNDS} timings; GiB/s, median (lowest to highest)",
        cpu_line(),
        COPY_BYTES >> 10
    );
    let src = PageBuf::new(COPY_BYTES, SOURCE_OFFSET, 0xA5);
    println!("| (dst - src) mod {page} | rep movsb | memcpy |");
    println!("|---|---|---|");
    for distance in DISTANCES.into_iter().filter(|&d| d < page) {
        let mut dst = PageBuf::new(COPY_BYTES, (SOURCE_OFFSET + distance) % page, 0);
        let mut by = |copy: fn(&mut [u8], &[u8])| {
            cell(
                (0..ROUNDS)
                    .map(|_| rate(dst.as_mut_slice(), src.as_slice(), copy))
                    .collect(),
            )
        };
        #[cfg(target_arch = "x86_64")]
        let movsb = by(rep_movsb);
        #[cfg(not(target_arch = "x86_64"))]
        let movsb = "-".to_owned();
        let memcpy = by(|d, s| d.copy_from_slice(s));
        println!("| {distance} | {movsb} | {memcpy} |");
    }
}
