//! The application-service registration the homeserver loads
//! (`app_service_config_files` in Synapse), printed by `matrix-sync registration`.

use matrix_sync_core::MatrixIds;
use secrecy::{ExposeSecret, SecretString};

pub struct Registration<'a> {
    pub ids: &'a MatrixIds,
    /// Where the homeserver reaches the service's appservice API.
    pub url: &'a str,
    pub as_token: &'a SecretString,
    pub hs_token: &'a SecretString,
}

/// The registration's `id`: stable, so a homeserver recognises it on reload.
pub const REGISTRATION_ID: &str = "matrix-sync";

impl Registration<'_> {
    /// The registration as YAML. Every string is written double-quoted in
    /// JSON syntax, which YAML reads as the same string, so no value can
    /// break the document.
    pub fn to_yaml(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        format!(
            "# Application-service registration for matrix-sync, made by `matrix-sync registration`.\n\
             # It holds secrets: keep it readable by the homeserver only.\n\
             id: {id}\n\
             url: {url}\n\
             as_token: {as_token}\n\
             hs_token: {hs_token}\n\
             sender_localpart: {sender}\n\
             # Requests made as the appservice are not rate-limited.\n\
             rate_limited: false\n\
             # The bot syncs with a device of its own (it is a namespace user, not the\n\
             # sender), so it needs no appservice-specific encryption extensions.\n\
             receive_ephemeral: false\n\
             namespaces:\n\
             \x20 users:\n\
             \x20   # Not exclusive: Synapse counts unread messages and sends push\n\
             \x20   # notifications only for users outside exclusive namespaces. No one\n\
             \x20   # else can take these ids while registration is closed.\n\
             \x20   - exclusive: false\n\
             \x20     regex: {users}\n\
             \x20   - exclusive: true\n\
             \x20     regex: {bot}\n\
             \x20 aliases:\n\
             \x20   - exclusive: true\n\
             \x20     regex: {aliases}\n\
             \x20 rooms: []\n",
            id = q(REGISTRATION_ID),
            url = q(self.url),
            as_token = q(self.as_token.expose_secret()),
            hs_token = q(self.hs_token.expose_secret()),
            sender = q(&self.ids.sender_localpart()),
            users = q(&self.ids.user_namespace_regex()),
            bot = q(&self.ids.bot_regex()),
            aliases = q(&self.ids.alias_namespace_regex()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_has_every_field_and_escapes_values() {
        let ids = MatrixIds::new("example.org", "@matrix-sync:example.org").unwrap();
        let as_token = SecretString::from("as\"tok");
        let hs_token = SecretString::from("hs-tok");
        let yaml = Registration { ids: &ids, url: "http://127.0.0.1:8090", as_token: &as_token, hs_token: &hs_token }
            .to_yaml();
        for needle in [
            "id: \"matrix-sync\"",
            "url: \"http://127.0.0.1:8090\"",
            "as_token: \"as\\\"tok\"",
            "hs_token: \"hs-tok\"",
            "sender_localpart: \"matrix-sync-appservice\"",
            "rate_limited: false",
            "regex: \"@matrix-sync:example\\\\.org\"",
        ] {
            assert!(yaml.contains(needle), "missing {needle} in\n{yaml}");
        }
    }
}
