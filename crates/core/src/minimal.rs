//! The fewest homeserver requests any client needs to reach a desired state,
//! the yardstick the service's real request counts are measured against.

use crate::desired::DesiredScope;

/// Requests by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinimalRequests {
    /// Each new user registered once.
    pub registrations: usize,
    /// Each room created once, with its name, join rule, encryption, power
    /// levels, parent link and the invitations of the members known then,
    /// all in the one `createRoom` request.
    pub room_creations: usize,
    /// A child's link in its parent Space (the child's own parent link is
    /// part of its creation; the parent exists first, so this one is not).
    pub space_links: usize,
    /// Each member joins each of their rooms once (a restricted room needs
    /// no invitation).
    pub joins: usize,
    /// One power-levels event per room whose levels change.
    pub power_level_events: usize,
}

impl MinimalRequests {
    /// All of them.
    pub fn total(&self) -> usize {
        self.registrations + self.room_creations + self.space_links + self.joins + self.power_level_events
    }

    /// From an empty homeserver to `desired`, with `new_users` to register.
    pub fn from_scratch(desired: &DesiredScope, new_users: usize) -> Self {
        let rooms = desired.rooms.iter().filter(|r| !r.archived);
        let mut minimal = Self { registrations: new_users, ..Self::default() };
        for room in rooms {
            minimal.room_creations += 1;
            minimal.space_links += usize::from(room.parent.is_some());
            // Invitations to an invite-only room travel in its createRoom.
            minimal.joins += room.members.len();
        }
        minimal
    }

    /// A change of levels only (a trust storm): one event per changed room.
    pub fn level_changes(rooms_changed: usize) -> Self {
        Self { power_level_events: rooms_changed, ..Self::default() }
    }
}

impl std::ops::Add for MinimalRequests {
    type Output = Self;

    fn add(self, o: Self) -> Self {
        Self {
            registrations: self.registrations + o.registrations,
            room_creations: self.room_creations + o.room_creations,
            space_links: self.space_links + o.space_links,
            joins: self.joins + o.joins,
            power_level_events: self.power_level_events + o.power_level_events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{community_with_council, ids};
    use crate::observed::ObservedScope;
    use crate::plan::{Action, plan};

    #[test]
    fn a_new_community_with_a_council() {
        let ids = ids();
        let desired = community_with_council(50, 8);
        let minimal = MinimalRequests::from_scratch(&desired, 50);
        // 4 rooms; General, the council Space and its room are children;
        // 50 × 2 joins in the community, 8 × 2 in the council.
        assert_eq!(
            minimal,
            MinimalRequests { registrations: 50, room_creations: 4, space_links: 3, joins: 116, power_level_events: 0 }
        );
        assert_eq!(minimal.total(), 173);

        // The planner, from scratch, makes exactly that many homeserver
        // actions (registrations happen before planning).
        let actions = plan(&desired, &ObservedScope::default(), &ids);
        let homeserver_actions = actions
            .iter()
            .filter(|a| matches!(a, Action::CreateRoom { .. } | Action::LinkChild { .. } | Action::Join { .. }))
            .count();
        assert_eq!(homeserver_actions, minimal.total() - minimal.registrations);
        assert_eq!(homeserver_actions, actions.len(), "nothing else is planned");
    }
}
