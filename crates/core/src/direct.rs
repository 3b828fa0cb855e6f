//! `m.direct`: each user's account data mapping the people they have direct
//! chats with to those rooms. The service adds its DMs to both users' map.

use serde_json::{Value, json};

/// `content` with `room` listed under `other`, or `None` if it already is.
/// Everything else in the map is kept as it was.
pub fn with_direct_room(content: Option<&Value>, other: &str, room: &str) -> Option<Value> {
    let mut map = match content {
        Some(Value::Object(map)) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let rooms = map.entry(other.to_owned()).or_insert_with(|| json!([]));
    if !rooms.is_array() {
        *rooms = json!([]);
    }
    let list = rooms.as_array_mut()?;
    if list.iter().any(|r| r.as_str() == Some(room)) {
        return None;
    }
    list.push(json!(room));
    Some(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_once_and_keeps_the_rest() {
        let existing = json!({ "@c:x": ["!old:x"], "@b:x": ["!other:x"] });
        let updated = with_direct_room(Some(&existing), "@b:x", "!dm:x").unwrap();
        assert_eq!(updated, json!({ "@c:x": ["!old:x"], "@b:x": ["!other:x", "!dm:x"] }));
        assert_eq!(with_direct_room(Some(&updated), "@b:x", "!dm:x"), None);
        assert_eq!(with_direct_room(None, "@b:x", "!dm:x"), Some(json!({ "@b:x": ["!dm:x"] })));
        assert_eq!(
            with_direct_room(Some(&json!({"@b:x": "junk"})), "@b:x", "!dm:x"),
            Some(json!({ "@b:x": ["!dm:x"] }))
        );
    }
}
