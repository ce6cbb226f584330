//! Keyed, counter-based random streams.
//!
//! Every random value Faux produces comes from a [`Stream`] whose key is derived from
//! `(seed, scenario, stream name, day, entity index, …)` with [`Key::derive`]. A stream's n-th
//! output is `mix64(key + n·γ)` — SplitMix64 read as a counter-based generator — so any entity
//! can be generated alone, on any thread, without generating what comes before it.
//!
//! The generator is written here rather than taken from a crate on purpose: the bytes Faux
//! writes are part of its contract, and no dependency upgrade may change them.
//! The constants and the derivation below are frozen; changing either changes every value and
//! must bump [`crate::MODEL_VERSION`].

/// Weyl increment of SplitMix64 (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 / Stafford "mix13" finaliser: a bijection on u64 with full avalanche.
#[inline(always)]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes; only used to turn stream names into numbers at key derivation.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
        i += 1;
    }
    h
}

/// A position in the tree of random streams: derive children with names and indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(u64);

impl Key {
    /// The root key of a run.
    pub const fn root(seed: u64) -> Self {
        Key(mix64(seed ^ 0x6661_7578_2D67_656E)) // "faux-gen"
    }

    /// A child key named by a label (a scenario, table or column name).
    pub const fn named(self, label: &str) -> Self {
        Key(mix64(self.0 ^ mix64(fnv1a(label.as_bytes()))))
    }

    /// A child key numbered by an index (a day, an entity, a line).
    #[inline(always)]
    pub const fn derive(self, index: u64) -> Self {
        Key(mix64(self.0.wrapping_add(mix64(index.wrapping_add(GAMMA)))))
    }

    /// The stream of values under this key.
    #[inline(always)]
    pub const fn stream(self) -> Stream {
        Stream {
            key: self.0,
            counter: 0,
        }
    }

    pub const fn value(self) -> u64 {
        self.0
    }
}

/// A counter-based stream of uniformly distributed 64-bit values.
#[derive(Debug, Clone)]
pub struct Stream {
    key: u64,
    counter: u64,
}

impl Stream {
    /// The next 64 random bits.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        mix64(self.key.wrapping_add(self.counter.wrapping_mul(GAMMA)))
    }

    /// Jumps to the n-th value of the stream (the next call returns value n).
    pub fn seek(&mut self, n: u64) {
        self.counter = n;
    }

    /// How many values were drawn (or skipped with [`Stream::seek`]) so far.
    pub fn position(&self) -> u64 {
        self.counter
    }

    /// A uniform float in `[0, 1)` with 53 bits of precision (like Python's `random.random`).
    #[inline(always)]
    pub fn next_f64(&mut self) -> f64 {
        // below 2^53, so as i64 it converts exactly, in one instruction (u64 needs several)
        ((self.next_u64() >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `lo..=hi` (like Python's `random.randint`).
    ///
    /// Lemire's multiply-shift without rejection: the bias is below `span / 2^64`, far under
    /// anything measurable, and it keeps one draw per value so streams stay seekable.
    #[inline(always)]
    pub fn range_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        let span = (hi - lo) as u64 + 1;
        let r = ((self.next_u64() as u128 * span as u128) >> 64) as u64;
        lo + r as i64
    }

    /// `true` with probability `p`.
    #[inline(always)]
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// 128 random bits shaped as an RFC 9562 version-4 UUID (what Python's `uuid4()` gives).
    #[inline(always)]
    pub fn uuid_v4(&mut self) -> Uuid {
        let hi = self.next_u64();
        let lo = self.next_u64();
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&hi.to_be_bytes());
        b[8..].copy_from_slice(&lo.to_be_bytes());
        b[6] = (b[6] & 0x0F) | 0x40;
        b[8] = (b[8] & 0x3F) | 0x80;
        Uuid(b)
    }

    /// An RFC 9562 version-7 UUID for time `unix_ms`: the time in its first 48 bits, then
    /// keyed random bits. It takes the same two draws as [`Stream::uuid_v4`], so switching an
    /// id from one to the other changes nothing else in the stream. A source can tell a
    /// row's time (its day) from its id alone.
    #[inline(always)]
    pub fn uuid_v7(&mut self, unix_ms: i64) -> Uuid {
        self.uuid_v4().into_v7(unix_ms)
    }
}

/// A 128-bit identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// This UUID's random bits as a version-7 UUID of time `unix_ms`: for an id drawn before
    /// its row's time is known ([`Stream::uuid_v7`] otherwise).
    pub fn into_v7(mut self, unix_ms: i64) -> Uuid {
        self.0[..6].copy_from_slice(&(unix_ms as u64).to_be_bytes()[2..]);
        self.0[6] = (self.0[6] & 0x0F) | 0x70;
        self
    }

    /// The time of a version-7 UUID, in Unix milliseconds (`None` for other versions).
    pub fn v7_millis(&self) -> Option<i64> {
        if self.0[6] >> 4 != 7 {
            return None;
        }
        let mut ms = [0u8; 8];
        ms[2..].copy_from_slice(&self.0[..6]);
        Some(u64::from_be_bytes(ms) as i64)
    }

    /// Reads the hyphenated form (`8-4-4-4-12` hex digits, either case); `None` otherwise.
    pub fn parse_hyphenated(s: &str) -> Option<Uuid> {
        let b = s.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        let mut digits = b.iter().filter(|&&c| c != b'-');
        let mut out = [0u8; 16];
        for byte in &mut out {
            let hi = (*digits.next()? as char).to_digit(16)?;
            let lo = (*digits.next()? as char).to_digit(16)?;
            *byte = (hi * 16 + lo) as u8;
        }
        Some(Uuid(out))
    }

    /// The 32 lowercase hex digits, no hyphens (Python's `uuid.hex`).
    #[inline(always)]
    pub fn hex(&self) -> [u8; 32] {
        // eight bytes at a time in a u128 (SWAR): ids are most of a Shiny Rocks file's bytes
        let mut out = [0u8; 32];
        let (a, b) = self.0.split_at(8);
        out[..16].copy_from_slice(&hex8(a.try_into().expect("8 bytes")));
        out[16..].copy_from_slice(&hex8(b.try_into().expect("8 bytes")));
        out
    }

    /// The canonical 8-4-4-4-12 form.
    pub fn hyphenated(&self) -> [u8; 36] {
        let hex = self.hex();
        let mut out = [b'-'; 36];
        out[0..8].copy_from_slice(&hex[0..8]);
        out[9..13].copy_from_slice(&hex[8..12]);
        out[14..18].copy_from_slice(&hex[12..16]);
        out[19..23].copy_from_slice(&hex[16..20]);
        out[24..36].copy_from_slice(&hex[20..32]);
        out
    }
}

/// Lowercase hex of 8 bytes, computed in one u128: each byte is spread into its own 16-bit
/// lane, split into two nibbles (high nibble first in memory), and every nibble n becomes
/// `'0' + n`, plus 39 when n ≥ 10 (`'a' - '0' - 10`). No lane ever carries into the next.
#[inline(always)]
fn hex8(bytes: [u8; 8]) -> [u8; 16] {
    const LANES_32: u128 = 0x0000_0000_FFFF_FFFF_0000_0000_FFFF_FFFF;
    const LANES_16: u128 = 0x0000_FFFF_0000_FFFF_0000_FFFF_0000_FFFF;
    const LANES_8: u128 = 0x00FF_00FF_00FF_00FF_00FF_00FF_00FF_00FF;
    const NIBBLES: u128 = 0x000F_000F_000F_000F_000F_000F_000F_000F;
    const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    let mut x = u64::from_le_bytes(bytes) as u128;
    x = (x | (x << 32)) & LANES_32;
    x = (x | (x << 16)) & LANES_16;
    x = (x | (x << 8)) & LANES_8;
    // lane i = byte i; low byte of the lane (first in memory) gets the high nibble
    x = ((x >> 4) & NIBBLES) | ((x & NIBBLES) << 8);
    let at_least_ten = ((x + 6 * ONES) >> 4) & ONES;
    (x + 0x30 * ONES + at_least_ten * 39).to_le_bytes()
}

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // hex() only yields ASCII digits
        f.write_str(std::str::from_utf8(&self.hex()).unwrap_or_default())
    }
}

/// A categorical distribution sampled the way the Shiny Rocks original's `select_string` does:
/// weights normalised by their sum, cumulated left to right in f64, and the first key whose
/// cumulative weight is ≥ one uniform draw wins (the last key if rounding leaves a gap).
#[derive(Debug, Clone)]
pub struct Categorical<T: 'static> {
    items: &'static [(T, f64)],
    cumulative: Vec<f64>,
}

impl<T: Copy> Categorical<T> {
    pub fn new(items: &'static [(T, f64)]) -> Self {
        assert!(!items.is_empty(), "a categorical needs at least one item");
        let total: f64 = items.iter().map(|(_, w)| *w).sum();
        let mut acc = 0.0;
        let cumulative = items
            .iter()
            .map(|(_, w)| {
                acc += *w / total;
                acc
            })
            .collect();
        Categorical { items, cumulative }
    }

    #[inline(always)]
    pub fn sample(&self, stream: &mut Stream) -> T {
        self.pick(stream.next_f64())
    }

    /// The item a uniform draw `u` selects.
    #[inline(always)]
    fn pick(&self, u: f64) -> T {
        // The first i with u <= cumulative[i] is the number of cumulative weights below u (they
        // are non-decreasing). Counting has no data-dependent branch: the early-exit loop
        // mispredicted about once per draw, which was most of the cost of a Shiny Rocks row.
        let below = self.cumulative.iter().filter(|&&c| c < u).count();
        self.items[below.min(self.items.len() - 1)].0
    }

    pub fn items(&self) -> &'static [(T, f64)] {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_seekable() {
        let key = Key::root(42).named("orders").derive(7);
        let mut a = key.stream();
        let first: Vec<u64> = (0..10).map(|_| a.next_u64()).collect();
        let mut b = key.stream();
        b.seek(5);
        assert_eq!(b.next_u64(), first[5]);
        assert_ne!(first[0], first[1]);
    }

    #[test]
    fn derived_keys_differ_by_name_and_index() {
        let root = Key::root(1);
        assert_ne!(root.named("a"), root.named("b"));
        assert_ne!(root.derive(0), root.derive(1));
        assert_ne!(Key::root(1), Key::root(2));
        assert_ne!(root.named("a").derive(1), root.derive(1).named("a"));
    }

    #[test]
    fn range_inclusive_hits_both_ends_and_stays_inside() {
        let mut s = Key::root(3).stream();
        let mut seen = [false; 11];
        for _ in 0..10_000 {
            let v = s.range_inclusive(0, 10);
            assert!((0..=10).contains(&v));
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&x| x));
    }

    #[test]
    fn uniform_floats_have_the_right_mean() {
        let mut s = Key::root(4).stream();
        let n = 200_000;
        let mean: f64 = (0..n).map(|_| s.next_f64()).sum::<f64>() / n as f64;
        // sd of the mean of U(0,1) is sqrt(1/12/n) ≈ 0.00065; allow 5 sd
        assert!((mean - 0.5).abs() < 5.0 * (1.0 / 12.0 / n as f64).sqrt());
    }

    #[test]
    fn uuid_v4_has_version_and_variant() {
        let mut s = Key::root(5).stream();
        for _ in 0..100 {
            let hex = s.uuid_v4().hex();
            assert_eq!(hex[12], b'4');
            assert!(matches!(hex[16], b'8' | b'9' | b'a' | b'b'));
        }
        let u = Uuid([0xAB; 16]);
        assert_eq!(
            std::str::from_utf8(&u.hyphenated()).unwrap(),
            "abababab-abab-abab-abab-abababababab"
        );
    }

    #[test]
    fn uuid_v7_carries_its_time_and_the_v4_draws() {
        let (mut a, mut b) = (Key::root(9).stream(), Key::root(9).stream());
        for i in 0..100i64 {
            let ms = 1_735_689_600_000 + i * 86_399_001;
            let (v4, v7) = (a.uuid_v4(), b.uuid_v7(ms));
            let hex = v7.hex();
            assert_eq!(hex[12], b'7');
            assert!(matches!(hex[16], b'8' | b'9' | b'a' | b'b'));
            assert_eq!(v7.v7_millis(), Some(ms));
            assert_eq!(v4.v7_millis(), None);
            // the random bits are the v4's, past the time and the version
            assert_eq!(v7.0[8..], v4.0[8..]);
            assert_eq!(v7.0[6] & 0x0F, v4.0[6] & 0x0F);
            assert_eq!(v7.0[7], v4.0[7]);
            let text = std::str::from_utf8(&v7.hyphenated()).unwrap().to_string();
            assert_eq!(Uuid::parse_hyphenated(&text), Some(v7));
            assert_eq!(Uuid::parse_hyphenated(&text.to_uppercase()), Some(v7));
        }
        // v7 ids sort by time, as text too
        let t1 = b.uuid_v7(1_000_000).hyphenated();
        let t2 = b.uuid_v7(1_000_001).hyphenated();
        assert!(t1 < t2);
        for bad in [
            "",
            "x",
            "0123456789abcdef0123456789abcdef",
            "zzzzzzzz-abab-abab-abab-abababababab",
            "abababab-abab-abab-abab-ababababababab",
            "abababab_abab-abab-abab-abababababab",
        ] {
            assert_eq!(Uuid::parse_hyphenated(bad), None, "{bad}");
        }
    }

    #[test]
    fn hex_matches_the_byte_by_byte_encoding() {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let naive = |u: &Uuid| -> Vec<u8> {
            u.0.iter()
                .flat_map(|b| [HEX[(b >> 4) as usize], HEX[(b & 0x0F) as usize]])
                .collect()
        };
        let mut s = Key::root(7).stream();
        let mut samples: Vec<Uuid> = (0..10_000).map(|_| s.uuid_v4()).collect();
        // every byte value at every position
        samples.extend((0..=255u8).map(|b| Uuid(std::array::from_fn(|i| b.wrapping_add(i as u8)))));
        for u in &samples {
            assert_eq!(u.hex().to_vec(), naive(u), "{:?}", u.0);
        }
        assert_eq!(
            &Uuid([
                0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0, 0x10, 0x9A, 0xFF, 0xA0, 0x0A,
                0x5F, 0xF5
            ])
            .hex(),
            b"0123456789abcdef00109affa00a5ff5"
        );
    }

    #[test]
    fn categorical_agrees_with_the_originals_first_match_rule() {
        // select_string: the first key whose cumulative weight is >= the draw, else the last
        fn first_match<T: Copy>(c: &Categorical<T>, u: f64) -> T {
            for (i, w) in c.cumulative.iter().enumerate() {
                if u <= *w {
                    return c.items[i].0;
                }
            }
            c.items[c.items.len() - 1].0
        }
        static MIX: [(u8, f64); 5] = [(0, 0.3), (1, 0.0), (2, 0.4), (3, 0.1), (4, 0.2)];
        static ZERO_FIRST: [(u8, f64); 2] = [(0, 0.0), (1, 1.0)];
        for items in [&MIX[..], &ZERO_FIRST[..]] {
            let c = Categorical::new(items);
            let mut draws: Vec<f64> = vec![0.0, 1.0, 1.0 + 1e-12, f64::MIN_POSITIVE];
            draws.extend(
                c.cumulative
                    .iter()
                    .flat_map(|&w| [w, w.next_down(), w.next_up()]),
            );
            for u in draws {
                assert_eq!(c.pick(u), first_match(&c, u), "u = {u}");
            }
            let mut s = Key::root(8).stream();
            for _ in 0..10_000 {
                let mut copy = s.clone();
                let u = copy.next_f64();
                assert_eq!(c.sample(&mut s), first_match(&c, u));
            }
        }
    }

    #[test]
    fn categorical_picks_first_key_at_or_above_the_draw() {
        static ITEMS: [(&str, f64); 2] = [("3", 0.64), ("5", 0.36)];
        let c = Categorical::new(&ITEMS);
        assert_eq!(c.cumulative, vec![0.64, 1.0]);
        let mut s = Key::root(6).stream();
        let n = 100_000;
        let threes = (0..n).filter(|_| c.sample(&mut s) == "3").count();
        let p = threes as f64 / n as f64;
        let sd = (0.64f64 * 0.36 / n as f64).sqrt();
        assert!((p - 0.64).abs() < 5.0 * sd, "p = {p}");
    }
}
