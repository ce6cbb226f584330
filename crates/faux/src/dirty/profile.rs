//! How dirty a run is: `off`, `light`, `realistic` or `nasty`.

/// A dirtiness profile: the chance that a row gets a defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Clean data: the dirty layer is not run at all.
    #[default]
    Off,
    Light,
    Realistic,
    Nasty,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::Off,
        Profile::Light,
        Profile::Realistic,
        Profile::Nasty,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Off => "off",
            Profile::Light => "light",
            Profile::Realistic => "realistic",
            Profile::Nasty => "nasty",
        }
    }

    /// The chance that a row gets one defect (of a kind that applies to it).
    pub fn rate(self) -> f64 {
        match self {
            Profile::Off => 0.0,
            Profile::Light => 0.005,
            Profile::Realistic => 0.03,
            Profile::Nasty => 0.15,
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown dirty profile {s:?}: valid profiles are off, light, realistic, nasty"
                )
            })
    }
}
