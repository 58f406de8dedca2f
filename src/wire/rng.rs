//! The wire's random choices: SplitMix64, seeded, one stream per direction and purpose.
//!
//! A few lines of our own rather than a crate: the sequence must stay the same across
//! versions so that a recorded seed replays the same drops, and SplitMix64 (Steele, Lea
//! and Flood, "Fast splittable pseudorandom number generators", 2014) is fixed by its
//! published constants.

/// SplitMix64's increment (the golden ratio's fraction, 2^64 / phi).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A SplitMix64 generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// A generator of its own for one use of one seed (`stream` names the use), so that
    /// what one fault draws never shifts what another draws: setting a jitter leaves the
    /// loss pattern of the same seed as it was.
    pub fn stream(seed: u64, stream: u64) -> SplitMix64 {
        let mut mix = SplitMix64::new(seed ^ stream.wrapping_mul(GOLDEN_GAMMA));
        SplitMix64::new(mix.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1), from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether an event of `percent` (0..=100) chance happens; 0 never, 100 always.
    pub fn chance(&mut self, percent: f64) -> bool {
        self.next_f64() * 100.0 < percent
    }

    /// A uniform integer in 0..=max (Lemire's multiply-shift; the bias is below 2^-64 per
    /// unit of `max` and does not matter for jitter).
    pub fn up_to(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        ((self.next_u64() as u128 * (max as u128 + 1)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_outputs_of_seed_zero_are_splitmix64s() {
        // The reference implementation's first outputs for seed 0 (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn up_to_stays_within_its_bound_and_reaches_it() {
        let mut r = SplitMix64::new(7);
        let draws: Vec<u64> = (0..1000).map(|_| r.up_to(3)).collect();
        assert!(draws.iter().all(|&d| d <= 3));
        for v in 0..=3 {
            assert!(draws.contains(&v), "{v} never drawn");
        }
    }

    #[test]
    fn streams_of_one_seed_differ() {
        let a = SplitMix64::stream(1, 0).next_u64();
        let b = SplitMix64::stream(1, 1).next_u64();
        assert_ne!(a, b);
    }
}
