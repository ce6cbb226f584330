//! Countries, names and the derivation of a customer's fixed attributes from its index.

use fake::locales::{DE_DE, Data, EN, FR_FR, IT_IT, NL_NL, PT_BR};

use crate::rng::Stream;

/// A country customers come from: its locale's names, a few of its real cities and its
/// telephone numbering.
#[derive(Debug)]
pub struct Country {
    pub code: &'static str,
    pub first_names: &'static [&'static str],
    pub last_names: &'static [&'static str],
    pub cities: &'static [&'static str],
    pub phones: Phones,
}

/// A country's telephone numbering, enough to draw plausible numbers and write them as its
/// people do.
#[derive(Debug)]
pub struct Phones {
    /// The ITU calling code (`49`), written after `+` in E.164.
    pub calling_code: &'static str,
    /// Dialled before a national number at home (`0`), not part of E.164; empty where the
    /// national number is written without one (Italy keeps its `0` in the number itself; North
    /// America and Brazil write the area code bare).
    pub trunk: &'static str,
    /// Mobile ranges: (area or mobile prefix, fixed leading digits of the subscriber part,
    /// random digits after them).
    pub mobile: &'static [(&'static str, &'static str, u8)],
    /// Landline ranges, by city: as `mobile`.
    pub landline: &'static [(&'static str, &'static str, u8)],
}

/// Share of customers who gave a mobile number (the rest a landline), of those with a phone.
const MOBILE_SHARE: f64 = 0.8;

pub const COUNTRY_CODES: [&str; 8] = ["BR", "CA", "DE", "FR", "GB", "IT", "NL", "US"];

static COUNTRIES: [Country; 8] = [
    Country {
        code: "BR",
        first_names: <PT_BR as Data>::NAME_FIRST_NAME,
        last_names: <PT_BR as Data>::NAME_LAST_NAME,
        cities: &[
            "São Paulo",
            "Rio de Janeiro",
            "Belo Horizonte",
            "Curitiba",
            "Porto Alegre",
            "Salvador",
            "Recife",
            "Fortaleza",
        ],
        phones: Phones {
            calling_code: "55",
            trunk: "",
            // mobiles are the area code, 9, then eight digits: (11) 91234-5678
            mobile: &[
                ("11", "9", 8),
                ("21", "9", 8),
                ("31", "9", 8),
                ("41", "9", 8),
                ("51", "9", 8),
                ("71", "9", 8),
                ("81", "9", 8),
                ("85", "9", 8),
            ],
            landline: &[
                ("11", "3", 7),
                ("21", "2", 7),
                ("31", "3", 7),
                ("41", "3", 7),
                ("51", "3", 7),
                ("71", "3", 7),
                ("81", "3", 7),
                ("85", "3", 7),
            ],
        },
    },
    Country {
        code: "CA",
        first_names: <EN as Data>::NAME_FIRST_NAME,
        last_names: <EN as Data>::NAME_LAST_NAME,
        cities: &[
            "Toronto",
            "Montreal",
            "Vancouver",
            "Calgary",
            "Ottawa",
            "Edmonton",
            "Winnipeg",
            "Halifax",
        ],
        phones: Phones {
            calling_code: "1",
            trunk: "",
            mobile: &[],
            // North America does not tell mobiles apart: area code and seven digits
            landline: &[
                ("416", "", 7),
                ("514", "", 7),
                ("604", "", 7),
                ("403", "", 7),
                ("613", "", 7),
                ("780", "", 7),
                ("204", "", 7),
                ("902", "", 7),
            ],
        },
    },
    Country {
        code: "DE",
        first_names: <DE_DE as Data>::NAME_FIRST_NAME,
        last_names: <DE_DE as Data>::NAME_LAST_NAME,
        cities: &[
            "Berlin",
            "Hamburg",
            "München",
            "Köln",
            "Frankfurt am Main",
            "Stuttgart",
            "Düsseldorf",
            "Leipzig",
            "Dresden",
            "Bremen",
        ],
        phones: Phones {
            calling_code: "49",
            trunk: "0",
            mobile: &[
                ("151", "", 8),
                ("152", "", 8),
                ("157", "", 8),
                ("160", "", 7),
                ("162", "", 7),
                ("170", "", 7),
                ("171", "", 7),
                ("172", "", 7),
                ("176", "", 8),
                ("177", "", 8),
            ],
            landline: &[
                ("30", "", 8),
                ("40", "", 8),
                ("89", "", 8),
                ("221", "", 7),
                ("69", "", 8),
                ("711", "", 7),
                ("211", "", 7),
                ("341", "", 7),
                ("351", "", 7),
                ("421", "", 7),
            ],
        },
    },
    Country {
        code: "FR",
        first_names: <FR_FR as Data>::NAME_FIRST_NAME,
        last_names: <FR_FR as Data>::NAME_LAST_NAME,
        cities: &[
            "Paris",
            "Lyon",
            "Marseille",
            "Toulouse",
            "Nice",
            "Nantes",
            "Strasbourg",
            "Bordeaux",
            "Lille",
            "Montpellier",
        ],
        phones: Phones {
            calling_code: "33",
            trunk: "0",
            mobile: &[("6", "", 8), ("7", "", 8)],
            // the five geographic zones: 01 Paris … 05 the south-west
            landline: &[
                ("1", "", 8),
                ("2", "", 8),
                ("3", "", 8),
                ("4", "", 8),
                ("5", "", 8),
            ],
        },
    },
    Country {
        code: "GB",
        first_names: <EN as Data>::NAME_FIRST_NAME,
        last_names: <EN as Data>::NAME_LAST_NAME,
        cities: &[
            "London",
            "Manchester",
            "Birmingham",
            "Leeds",
            "Glasgow",
            "Bristol",
            "Edinburgh",
            "Liverpool",
            "Cardiff",
            "Belfast",
        ],
        phones: Phones {
            calling_code: "44",
            trunk: "0",
            mobile: &[
                ("7700", "", 6),
                ("7911", "", 6),
                ("7823", "", 6),
                ("7412", "", 6),
                ("7584", "", 6),
                ("7960", "", 6),
            ],
            landline: &[
                ("20", "", 8),
                ("161", "", 7),
                ("121", "", 7),
                ("113", "", 7),
                ("141", "", 7),
                ("117", "", 7),
                ("131", "", 7),
                ("151", "", 7),
                ("29", "", 8),
                ("28", "", 8),
            ],
        },
    },
    Country {
        code: "IT",
        first_names: <IT_IT as Data>::NAME_FIRST_NAME,
        last_names: <IT_IT as Data>::NAME_LAST_NAME,
        cities: &[
            "Roma", "Milano", "Napoli", "Torino", "Bologna", "Firenze", "Genova", "Palermo",
        ],
        phones: Phones {
            calling_code: "39",
            // the leading 0 of a landline is part of the number, also in E.164
            trunk: "",
            mobile: &[
                ("320", "", 7),
                ("328", "", 7),
                ("333", "", 7),
                ("340", "", 7),
                ("347", "", 7),
                ("348", "", 7),
                ("366", "", 7),
                ("380", "", 7),
            ],
            landline: &[
                ("06", "", 8),
                ("02", "", 8),
                ("081", "", 7),
                ("011", "", 7),
                ("051", "", 7),
                ("055", "", 7),
                ("010", "", 7),
                ("091", "", 7),
            ],
        },
    },
    Country {
        code: "NL",
        first_names: <NL_NL as Data>::NAME_FIRST_NAME,
        last_names: <NL_NL as Data>::NAME_LAST_NAME,
        cities: &[
            "Amsterdam",
            "Rotterdam",
            "Den Haag",
            "Utrecht",
            "Eindhoven",
            "Groningen",
            "Leiden",
            "Haarlem",
        ],
        phones: Phones {
            calling_code: "31",
            trunk: "0",
            mobile: &[("6", "", 8)],
            landline: &[
                ("20", "", 7),
                ("10", "", 7),
                ("70", "", 7),
                ("30", "", 7),
                ("40", "", 7),
                ("50", "", 7),
                ("71", "", 7),
                ("23", "", 7),
            ],
        },
    },
    Country {
        code: "US",
        first_names: <EN as Data>::NAME_FIRST_NAME,
        last_names: <EN as Data>::NAME_LAST_NAME,
        cities: &[
            "New York",
            "Los Angeles",
            "Chicago",
            "Houston",
            "Phoenix",
            "Philadelphia",
            "San Antonio",
            "San Diego",
            "Dallas",
            "Austin",
            "Seattle",
            "Denver",
            "Boston",
            "Portland",
            "Atlanta",
            "Miami",
        ],
        phones: Phones {
            calling_code: "1",
            trunk: "",
            mobile: &[],
            landline: &[
                ("212", "", 7),
                ("213", "", 7),
                ("312", "", 7),
                ("713", "", 7),
                ("602", "", 7),
                ("215", "", 7),
                ("210", "", 7),
                ("619", "", 7),
                ("214", "", 7),
                ("512", "", 7),
                ("206", "", 7),
                ("303", "", 7),
                ("617", "", 7),
                ("503", "", 7),
                ("404", "", 7),
                ("305", "", 7),
            ],
        },
    },
];

pub fn country(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.code == code)
}

const EMAIL_DOMAINS: [&str; 5] = [
    "example.com",
    "example.net",
    "example.org",
    "mail.example",
    "inbox.example",
];

/// Lower-case ASCII letters of a name, accents folded (`Müller` → `muller`), others dropped.
pub fn ascii_slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        let folded = match ch {
            'a'..='z' => ch,
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            'ß' => 's',
            _ => continue,
        };
        out.push(folded);
    }
    if out.is_empty() { "x".into() } else { out }
}

/// The name-derived attributes of customer `index`, drawn from its stream.
#[derive(Debug, Clone)]
pub struct Identity {
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub email: String,
    pub username: String,
}

pub fn identity(country: &Country, index: u64, s: &mut Stream) -> Identity {
    let pick = |list: &'static [&'static str], s: &mut Stream| {
        list[s.range_inclusive(0, list.len() as i64 - 1) as usize]
    };
    let first_name = pick(country.first_names, s);
    let last_name = pick(country.last_names, s);
    let (first, last) = (ascii_slug(first_name), ascii_slug(last_name));
    let domain = EMAIL_DOMAINS[s.range_inclusive(0, EMAIL_DOMAINS.len() as i64 - 1) as usize];
    // the customer index makes both unique whatever names collide
    let email = match s.range_inclusive(0, 2) {
        0 => format!("{first}.{last}{index}@{domain}"),
        1 => format!("{}{last}{index}@{domain}", &first[..1]),
        _ => format!("{first}_{last}.{index}@{domain}"),
    };
    let username = format!("{first}{}{index}", &last[..1]);
    Identity {
        first_name,
        last_name,
        email,
        username,
    }
}

impl Phones {
    /// A number of this country in E.164 (`+4930…`), drawn from `s`.
    pub fn draw(&self, s: &mut Stream) -> String {
        let ranges = if !self.mobile.is_empty() && s.chance(MOBILE_SHARE) {
            self.mobile
        } else {
            self.landline
        };
        let (area, lead, digits) = ranges[s.range_inclusive(0, ranges.len() as i64 - 1) as usize];
        let mut out = format!("+{}{area}{lead}", self.calling_code);
        for i in 0..digits {
            // a subscriber number does not start with 0 or 1 (those dial services, trunks)
            let lo = if i == 0 && lead.is_empty() { 2 } else { 0 };
            out.push(char::from(b'0' + s.range_inclusive(lo, 9) as u8));
        }
        out
    }

    /// An E.164 number of this country split into its area (or mobile prefix) and the
    /// subscriber part; `None` if it is not one of the country's ranges.
    pub fn split<'a>(&self, e164: &'a str) -> Option<(&'a str, &'a str)> {
        let national = e164.strip_prefix('+')?.strip_prefix(self.calling_code)?;
        let &(area, _, _) = self
            .mobile
            .iter()
            .chain(self.landline)
            .find(|(area, lead, n)| {
                national.len() == area.len() + lead.len() + *n as usize
                    && national.starts_with(area)
                    && national[area.len()..].starts_with(lead)
            })?;
        Some(national.split_at(area.len()))
    }

    /// `e164` as written at home, in one of the country's usual styles (`style` picks it):
    /// `030 1234 5678`, `(030) 1234-5678`, `030-12345678`; in France `06 12 34 56 78` or
    /// `06.12.34.56.78`. `None` if it is not one of the country's numbers.
    pub fn national(&self, e164: &str, style: u8) -> Option<String> {
        let (area, sub) = self.split(e164)?;
        let area = format!("{}{area}", self.trunk);
        if self.calling_code == "33" {
            let all = format!("{area}{sub}");
            let pairs: Vec<&str> = (0..all.len())
                .step_by(2)
                .map(|i| &all[i..(i + 2).min(all.len())])
                .collect();
            return Some(pairs.join(if style.is_multiple_of(2) { " " } else { "." }));
        }
        let cut = if sub.len() >= 7 {
            sub.len() - 4
        } else {
            sub.len() / 2
        };
        let (a, b) = sub.split_at(cut);
        Some(match style % 3 {
            0 => format!("{area} {a} {b}"),
            1 => format!("({area}) {a}-{b}"),
            _ => format!("{area}-{sub}"),
        })
    }

    /// `e164` written for dialling from abroad with spaces: `+49 30 12345678`
    /// (or `0049 30 12345678` with `prefix` "00").
    pub fn international(&self, e164: &str, prefix: &str) -> Option<String> {
        let (area, sub) = self.split(e164)?;
        Some(format!("{prefix}{} {area} {sub}", self.calling_code))
    }
}

/// The cleaning recipe of the README (examples/dirty_dbt's `e164_phone`): drop an
/// extension, keep the digits; `+` or `00` lead the calling code; a trunk `0` leads a
/// national number; more digits than the longest national number hold the calling code.
#[cfg(test)]
pub(crate) fn e164_recipe(phone: &str, country: &Country) -> String {
    let lower = phone.trim().to_lowercase();
    let cut = lower.find(['x', 'e']).unwrap_or(lower.len());
    let digits: String = lower[..cut].chars().filter(char::is_ascii_digit).collect();
    let p = &country.phones;
    let longest = p
        .mobile
        .iter()
        .chain(p.landline)
        .map(|(a, l, n)| a.len() + l.len() + *n as usize)
        .max()
        .unwrap();
    if lower.starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if !p.trunk.is_empty() && digits.starts_with(p.trunk) {
        format!("+{}{}", p.calling_code, &digits[p.trunk.len()..])
    } else if digits.len() > longest {
        format!("+{digits}")
    } else {
        format!("+{}{digits}", p.calling_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_accents_and_drop_the_rest() {
        assert_eq!(ascii_slug("Müller-Lüdenscheidt"), "mullerludenscheidt");
        assert_eq!(ascii_slug("D'Amélie"), "damelie");
        assert_eq!(ascii_slug("Straße"), "strase");
        assert_eq!(ascii_slug("李"), "x");
    }

    #[test]
    fn phones_are_e164_of_their_country_and_every_written_form_cleans_back() {
        for c in &COUNTRIES {
            let mut s = crate::rng::Key::root(3).named(c.code).stream();
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..500 {
                let e = c.phones.draw(&mut s);
                // E.164: `+`, then at most 15 digits
                assert!(e.starts_with(&format!("+{}", c.phones.calling_code)), "{e}");
                assert!(e[1..].chars().all(|ch| ch.is_ascii_digit()), "{e}");
                assert!((9..=15).contains(&(e.len() - 1)), "{e}");
                let (area, sub) = c.phones.split(&e).expect(&e);
                assert!(!area.is_empty() && !sub.is_empty(), "{e}");
                let mut forms = vec![
                    e.clone(),
                    e[1..].to_string(),
                    c.phones.international(&e, "+").unwrap(),
                    c.phones.international(&e, "00").unwrap(),
                    format!("{} x12", c.phones.international(&e, "+").unwrap()),
                    format!("{e} ext. 7"),
                ];
                forms.extend((0..3).map(|style| c.phones.national(&e, style).unwrap()));
                for f in &forms {
                    assert_eq!(e164_recipe(f, c), e, "{} {f:?}", c.code);
                }
                seen.insert(e);
            }
            assert!(
                seen.len() > 450,
                "{}: {} distinct numbers",
                c.code,
                seen.len()
            );
        }
        let de = country("DE").unwrap();
        assert_eq!(
            de.phones.national("+493012345678", 1).unwrap(),
            "(030) 1234-5678"
        );
        assert_eq!(
            de.phones.national("+493012345678", 0).unwrap(),
            "030 1234 5678"
        );
        let us = country("US").unwrap();
        assert_eq!(
            us.phones.national("+12125550123", 1).unwrap(),
            "(212) 555-0123"
        );
        let fr = country("FR").unwrap();
        assert_eq!(
            fr.phones.national("+33612345678", 0).unwrap(),
            "06 12 34 56 78"
        );
        let it = country("IT").unwrap();
        assert_eq!(
            it.phones.national("+390612345678", 0).unwrap(),
            "06 1234 5678"
        );
        assert_eq!(de.phones.split("+4412345"), None);
    }

    #[test]
    fn every_country_has_names_and_cities() {
        for c in &COUNTRIES {
            assert!(
                !c.first_names.is_empty() && !c.last_names.is_empty() && !c.cities.is_empty(),
                "{}",
                c.code
            );
            assert!(COUNTRY_CODES.contains(&c.code));
        }
    }
}
