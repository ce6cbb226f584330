//! Countries, names and the derivation of a customer's fixed attributes from its index.

use fake::locales::{DE_DE, Data, EN, FR_FR, IT_IT, NL_NL, PT_BR};

use crate::rng::Stream;

/// A country customers come from: its locale's names and a few of its real cities.
#[derive(Debug)]
pub struct Country {
    pub code: &'static str,
    pub first_names: &'static [&'static str],
    pub last_names: &'static [&'static str],
    pub cities: &'static [&'static str],
}

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
    },
    Country {
        code: "IT",
        first_names: <IT_IT as Data>::NAME_FIRST_NAME,
        last_names: <IT_IT as Data>::NAME_LAST_NAME,
        cities: &[
            "Roma", "Milano", "Napoli", "Torino", "Bologna", "Firenze", "Genova", "Palermo",
        ],
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
