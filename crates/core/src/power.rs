//! Trust scores and roles → Matrix power levels, and the power-levels content
//! every room the service manages must carry.

use std::collections::BTreeMap;

use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};

/// The level of full room administration (the `admin` role).
pub const ADMIN_LEVEL: i64 = 100;
/// The level that may kick, ban and redact.
pub const MODERATOR_LEVEL: i64 = 50;
/// The level that may invite.
pub const INVITE_LEVEL: i64 = 25;

/// A community's trust → power-level table: ascending `min_trust` starting
/// at 0, levels from 0 to 99 (100 is the admin role's). Deserializing
/// checks the same as [`TrustLevels::new`]: no table is ever unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<TrustLevel>")]
pub struct TrustLevels(Vec<TrustLevel>);

/// A table as stored: its JSON, checked as [`TrustLevels::new`] checks it.
impl TryFrom<String> for TrustLevels {
    type Error = serde_json::Error;

    fn try_from(json: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&json)
    }
}

impl TryFrom<Vec<TrustLevel>> for TrustLevels {
    type Error = TrustLevelsError;

    fn try_from(levels: Vec<TrustLevel>) -> Result<Self, Self::Error> {
        Self::new(levels)
    }
}

/// One row of a trust table: from `min_trust` up, `power_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustLevel {
    /// The lowest trust of the row.
    pub min_trust: u64,
    /// The level it earns (0 to 99).
    pub power_level: i64,
}

/// Why a trust table is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustLevelsError {
    /// No rows.
    #[error("trust_levels must not be empty")]
    Empty,
    /// The first row does not start at 0.
    #[error("trust_levels must start at min_trust 0")]
    NoFloor,
    /// Rows out of order.
    #[error("trust_levels must be in strictly ascending min_trust order")]
    NotAscending,
    /// A level below 0 or at the admin's 100.
    #[error("power levels in trust_levels must be from 0 to 99 (100 is the admin role's)")]
    LevelOutOfRange,
}

impl Default for TrustLevels {
    /// The specification's table: 0–4 → 0, 5–14 → 10, 15–29 → 25, 30+ → 50.
    fn default() -> Self {
        Self(vec![
            TrustLevel { min_trust: 0, power_level: 0 },
            TrustLevel { min_trust: 5, power_level: 10 },
            TrustLevel { min_trust: 15, power_level: INVITE_LEVEL },
            TrustLevel { min_trust: 30, power_level: MODERATOR_LEVEL },
        ])
    }
}

impl TrustLevels {
    /// A checked table.
    pub fn new(levels: Vec<TrustLevel>) -> Result<Self, TrustLevelsError> {
        let first = levels.first().ok_or(TrustLevelsError::Empty)?;
        if first.min_trust != 0 {
            return Err(TrustLevelsError::NoFloor);
        }
        if levels.windows(2).any(|w| w[0].min_trust >= w[1].min_trust) {
            return Err(TrustLevelsError::NotAscending);
        }
        if levels.iter().any(|l| !(0..ADMIN_LEVEL).contains(&l.power_level)) {
            return Err(TrustLevelsError::LevelOutOfRange);
        }
        Ok(Self(levels))
    }

    /// The rows, ascending.
    pub fn levels(&self) -> &[TrustLevel] {
        &self.0
    }

    /// The level a trust score earns.
    pub fn level_for(&self, trust: u64) -> i64 {
        self.0.iter().rev().find(|l| trust >= l.min_trust).map_or(0, |l| l.power_level)
    }
}

/// A member's role in a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommunityRole {
    /// A member: the level their trust earns.
    Member,
    /// An admin: level 100.
    Admin,
}

/// A role as stored.
impl TryFrom<String> for CommunityRole {
    type Error = crate::stored::UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| crate::stored::UnknownValue::new("community member role", value))
    }
}

impl CommunityRole {
    /// The API's and the store's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CommunityRole::Member => "member",
            CommunityRole::Admin => "admin",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(CommunityRole::Member),
            "admin" => Some(CommunityRole::Admin),
            _ => None,
        }
    }
}

/// A member's role in a council.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CouncilRole {
    /// A member.
    Member,
    /// A moderator: level 50 in the council's rooms.
    Moderator,
    /// An admin: level 100 in the council's rooms.
    Admin,
}

/// A role as stored.
impl TryFrom<String> for CouncilRole {
    type Error = crate::stored::UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| crate::stored::UnknownValue::new("council member role", value))
    }
}

impl CouncilRole {
    /// The API's and the store's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CouncilRole::Member => "member",
            CouncilRole::Moderator => "moderator",
            CouncilRole::Admin => "admin",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(CouncilRole::Member),
            "moderator" => Some(CouncilRole::Moderator),
            "admin" => Some(CouncilRole::Admin),
            _ => None,
        }
    }

    /// The level the role alone gives in the council's rooms.
    pub fn level(&self) -> i64 {
        match self {
            CouncilRole::Member => 0,
            CouncilRole::Moderator => MODERATOR_LEVEL,
            CouncilRole::Admin => ADMIN_LEVEL,
        }
    }
}

/// A member's level in the community's rooms: their trust level, or 100 for
/// an admin.
pub fn community_level(levels: &TrustLevels, trust: u64, role: CommunityRole) -> i64 {
    match role {
        CommunityRole::Admin => ADMIN_LEVEL,
        CommunityRole::Member => levels.level_for(trust),
    }
}

/// A council member's level in the council's rooms: the higher of what they
/// hold in the community and what their council role gives.
pub fn council_level(levels: &TrustLevels, trust: u64, role: CommunityRole, council_role: CouncilRole) -> i64 {
    community_level(levels, trust, role).max(council_role.level())
}

/// The content of `m.room.power_levels` as the service writes and compares
/// it. Missing fields read as the Matrix specification's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerLevels {
    /// Level to ban.
    #[serde(default = "default_50")]
    pub ban: i64,
    /// Levels to send particular event types.
    #[serde(default)]
    pub events: BTreeMap<String, i64>,
    /// Level to send other messages.
    #[serde(default)]
    pub events_default: i64,
    /// Level to invite.
    #[serde(default)]
    pub invite: i64,
    /// Level to kick.
    #[serde(default = "default_50")]
    pub kick: i64,
    /// Levels for notifications (`room`).
    #[serde(default)]
    pub notifications: BTreeMap<String, i64>,
    /// Level to redact others' events.
    #[serde(default = "default_50")]
    pub redact: i64,
    /// Level to send other state.
    #[serde(default = "default_50")]
    pub state_default: i64,
    /// Users above (or below) the default.
    #[serde(default)]
    pub users: BTreeMap<OwnedUserId, i64>,
    /// Everyone else's level.
    #[serde(default)]
    pub users_default: i64,
}

fn default_50() -> i64 {
    50
}

/// State events only the service (and admins) may send.
pub const ADMIN_ONLY_EVENTS: [&str; 8] = [
    "m.room.power_levels",
    "m.room.encryption",
    "m.room.join_rules",
    "m.room.history_visibility",
    "m.space.child",
    "m.space.parent",
    "m.room.tombstone",
    "m.room.server_acl",
];

impl PowerLevels {
    /// The contract's levels for every room, with `users` listing only those
    /// whose level is not the default (0). The bot is the room's creator
    /// (room version 12) and is never listed.
    pub fn for_room(users: BTreeMap<OwnedUserId, i64>) -> Self {
        Self {
            ban: MODERATOR_LEVEL,
            events: ADMIN_ONLY_EVENTS.iter().map(|e| ((*e).to_owned(), ADMIN_LEVEL)).collect(),
            events_default: 0,
            invite: INVITE_LEVEL,
            kick: MODERATOR_LEVEL,
            notifications: BTreeMap::from([("room".to_owned(), MODERATOR_LEVEL)]),
            redact: MODERATOR_LEVEL,
            state_default: MODERATOR_LEVEL,
            users: users.into_iter().filter(|(_, level)| *level != 0).collect(),
            users_default: 0,
        }
    }

    /// The levels of an archived room: the same users at the same levels
    /// (so a restore brings back exactly what was), but only admins and the
    /// bot may post, invite or change anything.
    pub fn archived(users: BTreeMap<OwnedUserId, i64>) -> Self {
        Self { events_default: ADMIN_LEVEL, invite: ADMIN_LEVEL, state_default: ADMIN_LEVEL, ..Self::for_room(users) }
    }

    /// Whether these are an archived room's levels.
    pub fn is_archived(&self) -> bool {
        self.events_default >= ADMIN_LEVEL
    }

    /// A user's level here.
    pub fn level_of(&self, user: &ruma::UserId) -> i64 {
        self.users.get(user).copied().unwrap_or(self.users_default)
    }
}

/// Matrix caps an event at 65,536 bytes. The power-levels event also
/// carries its envelope (event ids, sender, room id, hashes, signatures:
/// well under 2 KiB) and must stay below the cap.
pub const EVENT_SIZE_LIMIT: usize = 65_536;
const ENVELOPE_RESERVE: usize = 2_048;

/// How many users with a non-default level one power-levels event can list
/// on this server, counting the longest entry (`"@uuid:server":100,`).
pub fn power_levels_capacity(server_name: &str) -> usize {
    let base = serde_json::to_vec(&PowerLevels::for_room(BTreeMap::new())).map_or(1024, |v| v.len());
    (EVENT_SIZE_LIMIT - ENVELOPE_RESERVE - base) / platform_entry_len(server_name)
}

/// How many of the capacity's places a user of another homeserver takes:
/// their id may be far longer than a platform user's (up to 255 bytes).
pub fn remote_entry_places(user_id: &str, server_name: &str) -> usize {
    entry_len(user_id).div_ceil(platform_entry_len(server_name)).max(1)
}

fn platform_entry_len(server_name: &str) -> usize {
    entry_len(&format!("@00000000-0000-0000-0000-000000000000:{server_name}"))
}

/// `"@user:server":100,`
fn entry_len(user_id: &str) -> usize {
    "\"".len() + user_id.len() + "\":100,".len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_table_is_the_specifications() {
        let t = TrustLevels::default();
        let cases = [(0, 0), (4, 0), (5, 10), (14, 10), (15, 25), (29, 25), (30, 50), (10_000, 50)];
        for (trust, level) in cases {
            assert_eq!(t.level_for(trust), level, "trust {trust}");
        }
        assert_eq!(community_level(&t, 0, CommunityRole::Admin), 100);
        assert_eq!(council_level(&t, 40, CommunityRole::Member, CouncilRole::Member), 50);
        assert_eq!(council_level(&t, 0, CommunityRole::Member, CouncilRole::Moderator), 50);
        assert_eq!(council_level(&t, 20, CommunityRole::Member, CouncilRole::Admin), 100);
        assert_eq!(council_level(&t, 20, CommunityRole::Member, CouncilRole::Member), 25);
    }

    #[test]
    fn custom_tables_are_validated() {
        let l = |min_trust, power_level| TrustLevel { min_trust, power_level };
        assert_eq!(TrustLevels::new(vec![]), Err(TrustLevelsError::Empty));
        assert_eq!(TrustLevels::new(vec![l(1, 0)]), Err(TrustLevelsError::NoFloor));
        assert_eq!(TrustLevels::new(vec![l(0, 0), l(5, 10), l(5, 20)]), Err(TrustLevelsError::NotAscending));
        assert_eq!(TrustLevels::new(vec![l(0, 0), l(5, 100)]), Err(TrustLevelsError::LevelOutOfRange));
        assert_eq!(TrustLevels::new(vec![l(0, -1)]), Err(TrustLevelsError::LevelOutOfRange));
        let t = TrustLevels::new(vec![l(0, 5), l(100, 60)]).unwrap();
        assert_eq!((t.level_for(99), t.level_for(100)), (5, 60));
        // Read from JSON (a stored record, a request body), the same checks.
        let read = |json: &str| serde_json::from_str::<TrustLevels>(json);
        assert_eq!(read(r#"[{"min_trust":0,"power_level":5},{"min_trust":100,"power_level":60}]"#).unwrap(), t);
        for bad in ["[]", r#"[{"min_trust":1,"power_level":0}]"#, r#"[{"min_trust":0,"power_level":100}]"#] {
            assert!(read(bad).is_err(), "{bad} was taken");
        }
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"[{"min_trust":0,"power_level":5},{"min_trust":100,"power_level":60}]"#
        );
    }

    #[test]
    fn room_levels_follow_the_contract() {
        let alice: OwnedUserId = "@alice:example.org".try_into().unwrap();
        let bob: OwnedUserId = "@bob:example.org".try_into().unwrap();
        let pl = PowerLevels::for_room(BTreeMap::from([(alice.clone(), 50), (bob.clone(), 0)]));
        assert_eq!((pl.users_default, pl.events_default, pl.invite), (0, 0, 25));
        assert_eq!((pl.kick, pl.ban, pl.redact), (50, 50, 50));
        for e in [
            "m.room.power_levels",
            "m.room.encryption",
            "m.room.join_rules",
            "m.room.history_visibility",
            "m.space.child",
            "m.space.parent",
        ] {
            assert_eq!(pl.events.get(e), Some(&100), "{e}");
        }
        assert_eq!(pl.users.len(), 1, "level-0 users are not listed");
        assert_eq!(pl.level_of(&alice), 50);
        assert_eq!(pl.level_of(&bob), 0);
    }

    #[test]
    fn missing_fields_read_as_the_spec_defaults() {
        let pl: PowerLevels = serde_json::from_str("{}").unwrap();
        assert_eq!((pl.ban, pl.kick, pl.redact, pl.state_default), (50, 50, 50, 50));
        assert_eq!((pl.invite, pl.events_default, pl.users_default), (0, 0, 0));
    }

    #[test]
    fn a_long_remote_id_takes_more_than_one_place() {
        assert_eq!(remote_entry_places("@bob:remote.example", "localhost"), 1);
        let long = format!("@{}:remote.example", "x".repeat(200));
        assert_eq!(remote_entry_places(&long, "localhost"), 5);
    }

    #[test]
    fn capacity_fits_the_event_limit() {
        assert!(power_levels_capacity("localhost") > 1_100);
        let server = "communities.example.org";
        let n = power_levels_capacity(server);
        assert!((900..1_000).contains(&n), "{n}");
        let users = (0..n).map(|_| (format!("@{}:{server}", uuid::Uuid::new_v4()).try_into().unwrap(), 100)).collect();
        let size = serde_json::to_vec(&PowerLevels::for_room(users)).unwrap().len();
        assert!(size + ENVELOPE_RESERVE <= EVENT_SIZE_LIMIT, "{size}");
    }

    proptest! {
        #[test]
        fn levels_never_decrease_with_trust(a in 0u64..1_000, b in 0u64..1_000) {
            let t = TrustLevels::default();
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(t.level_for(lo) <= t.level_for(hi));
        }
    }
}
