//! The platforms the scenarios onboard: communities of members with random
//! trust, and councils drawn from their members. The same data becomes an
//! import file for the service (whose report gives the minimal request
//! count) and the desired state the raw baseline and the storm work from.

use std::collections::BTreeSet;

use matrix_sync_core::MatrixIds;
use matrix_sync_core::desired::{Community, CommunityConfig, CommunityMember, Council, DesiredScope, community_rooms};
use matrix_sync_core::power::{CommunityRole, CouncilRole, TrustLevels};
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use uuid::Uuid;

pub struct Platform {
    pub communities: Vec<CommunityData>,
}

pub struct CommunityData {
    pub id: Uuid,
    pub name: String,
    pub members: Vec<MemberData>,
    pub councils: Vec<CouncilData>,
}

#[derive(Clone, Copy)]
pub struct MemberData {
    pub user: Uuid,
    pub trust: i64,
    pub admin: bool,
}

pub struct CouncilData {
    pub id: Uuid,
    pub name: String,
    pub members: Vec<Uuid>,
}

/// The shape of a platform to generate.
#[derive(Clone, Copy)]
pub struct Shape {
    pub communities: usize,
    pub members: usize,
    pub councils: usize,
    pub council_members: usize,
    /// The lowest trust a member gets: 5 or more puts everyone above level 0
    /// (the largest power-levels events).
    pub min_trust: i64,
}

impl Platform {
    /// Distinct users in every community; the first member is an admin.
    pub fn generate(shape: Shape, rng: &mut impl Rng) -> Self {
        let communities = (0..shape.communities)
            .map(|c| {
                let members: Vec<MemberData> = (0..shape.members)
                    .map(|m| MemberData {
                        user: Uuid::new_v4(),
                        trust: rng.random_range(shape.min_trust..60),
                        admin: m == 0,
                    })
                    .collect();
                let councils = (0..shape.councils)
                    .map(|k| {
                        let mut pool: Vec<Uuid> = members.iter().map(|m| m.user).collect();
                        pool.shuffle(rng);
                        pool.truncate(shape.council_members.min(members.len()));
                        CouncilData { id: Uuid::new_v4(), name: format!("Council {}", k + 1), members: pool }
                    })
                    .collect();
                CommunityData { id: Uuid::new_v4(), name: format!("Bench community {}", c + 1), members, councils }
            })
            .collect();
        Self { communities }
    }

    /// The file `matrix-sync import` reads.
    pub fn import_file(&self) -> Value {
        let communities: Vec<Value> = self
            .communities
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "name": c.name,
                    "members": c.members.iter().map(|m| json!({
                        "user_id": m.user,
                        "trust_score": m.trust,
                        "role": if m.admin { "admin" } else { "member" },
                    })).collect::<Vec<_>>(),
                    "councils": c.councils.iter().map(|k| json!({
                        "id": k.id,
                        "name": k.name,
                        "members": k.members.iter().map(|u| json!({ "user_id": u })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "communities": communities })
    }

    pub fn users(&self) -> BTreeSet<Uuid> {
        self.communities.iter().flat_map(|c| c.members.iter().map(|m| m.user)).collect()
    }

    /// Each community's desired rooms, as the service plans them.
    pub fn desired(&self, ids: &MatrixIds) -> Vec<DesiredScope> {
        self.communities.iter().map(|c| c.desired(ids)).collect()
    }
}

impl CommunityData {
    pub fn desired(&self, ids: &MatrixIds) -> DesiredScope {
        let members: Vec<CommunityMember> = self
            .members
            .iter()
            .map(|m| CommunityMember {
                user: ids.user(m.user),
                trust: u64::try_from(m.trust).unwrap_or(0),
                role: if m.admin { CommunityRole::Admin } else { CommunityRole::Member },
            })
            .collect();
        let councils: Vec<Council> = self
            .councils
            .iter()
            .map(|k| Council {
                id: k.id,
                name: k.name.clone(),
                deleted: false,
                members: k.members.iter().map(|u| (ids.user(*u), CouncilRole::Member)).collect(),
            })
            .collect();
        let community = Community {
            id: self.id,
            name: self.name.clone(),
            config: CommunityConfig::default(),
            trust_levels: TrustLevels::default(),
            deleted: false,
        };
        community_rooms(&community, &members, &councils)
    }
}
