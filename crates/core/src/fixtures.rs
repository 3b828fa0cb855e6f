//! Shapes the unit tests build from.

use uuid::Uuid;

use crate::MatrixIds;
use crate::desired::{Community, CommunityConfig, CommunityMember, Council, DesiredScope, community_rooms};
use crate::power::{CommunityRole, CouncilRole, TrustLevels};

pub fn ids() -> MatrixIds {
    MatrixIds::new("example.org", "@matrix-sync:example.org").unwrap()
}

/// A community of `members` (trust 10) with one council of its first
/// `council_members`, as the service wants it.
pub fn community_with_council(members: u128, council_members: usize) -> DesiredScope {
    let ids = ids();
    let members: Vec<CommunityMember> = (0..members)
        .map(|n| CommunityMember { user: ids.user(Uuid::from_u128(n + 1)), trust: 10, role: CommunityRole::Member })
        .collect();
    let council = Council {
        id: Uuid::from_u128(900),
        name: "K".into(),
        deleted: false,
        members: members.iter().take(council_members).map(|m| (m.user.clone(), CouncilRole::Member)).collect(),
    };
    let community = Community {
        id: Uuid::from_u128(1000),
        name: "C".into(),
        config: CommunityConfig::default(),
        trust_levels: TrustLevels::default(),
        deleted: false,
    };
    community_rooms(&community, &members, &[council])
}
