//! Accounts: registering the platform's users in the appservice namespace,
//! their display names, and access tokens minted for them.

use reqwest::Method;
use ruma::{OwnedUserId, UserId};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::client::{Auth, Request};
use crate::{AppserviceClient, HomeserverError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Created,
    AlreadyExisted,
}

/// A Matrix session minted for a user through the appservice login.
#[derive(Debug, Clone)]
pub struct UserSession {
    pub user_id: OwnedUserId,
    pub access_token: SecretString,
    pub device_id: String,
}

impl AppserviceClient {
    /// Asks the homeserver to ping the service back through the
    /// registration's URL. A successful ping also makes Synapse deliver any
    /// transactions it was holding back (after failed pushes it otherwise
    /// waits up to about eight minutes before trying again).
    pub async fn ping_appservice(&self) -> Result<(), HomeserverError> {
        self.send(Request {
            endpoint: "appservice.ping",
            method: Method::POST,
            path: &["_matrix", "client", "v1", "appservice", crate::registration::REGISTRATION_ID, "ping"],
            as_user: None,
            query: &[],
            body: Some(json!({})),
            auth: Auth::Appservice,
        })
        .await
        .map(drop)
    }

    /// Deletes one of a user's devices, which ends its session (its token
    /// stops working). Appservices may do this without interactive auth
    /// (MSC4190). A device that no longer exists is already gone.
    pub async fn delete_device(&self, user: &UserId, device_id: &str) -> Result<(), HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "devices.delete",
                method: Method::DELETE,
                path: &["_matrix", "client", "v3", "devices", device_id],
                as_user: Some(user),
                query: &[],
                body: Some(json!({})),
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => Ok(()),
            other => other.map(drop),
        }
    }

    /// A user's global account data of one type, acting as them (`None`
    /// when they have none).
    pub async fn account_data(&self, user: &UserId, event_type: &str) -> Result<Option<Value>, HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "account_data.get",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "user", user.as_str(), "account_data", event_type],
                as_user: Some(user),
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces a user's global account data of one type, acting as them.
    pub async fn set_account_data(
        &self,
        user: &UserId,
        event_type: &str,
        content: Value,
    ) -> Result<(), HomeserverError> {
        self.send(Request {
            endpoint: "account_data.set",
            method: Method::PUT,
            path: &["_matrix", "client", "v3", "user", user.as_str(), "account_data", event_type],
            as_user: Some(user),
            query: &[],
            body: Some(content),
            auth: Auth::Appservice,
        })
        .await
        .map(drop)
    }

    /// Registers a user in the appservice's namespace. A user that exists
    /// already is not an error: registration is idempotent.
    pub async fn register(&self, localpart: &str) -> Result<Registered, HomeserverError> {
        let result = self
            .send(Request {
                endpoint: "register",
                method: Method::POST,
                path: &["_matrix", "client", "v3", "register"],
                as_user: None,
                query: &[],
                body: Some(json!({
                    "type": "m.login.application_service",
                    "username": localpart,
                    "inhibit_login": true,
                })),
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Ok(_) => Ok(Registered::Created),
            Err(e) if e.errcode() == Some("M_USER_IN_USE") => Ok(Registered::AlreadyExisted),
            Err(e) => Err(e),
        }
    }

    /// The user's display name as the homeserver has it.
    pub async fn display_name(&self, user: &UserId) -> Result<Option<String>, HomeserverError> {
        self.profile_field(user, ProfileField::DisplayName).await
    }

    /// Sets a user's display name, acting as them. Only called when it
    /// differs: every change is a membership event in each of their rooms.
    pub async fn set_display_name(&self, user: &UserId, name: &str) -> Result<(), HomeserverError> {
        self.set_profile_field(user, ProfileField::DisplayName, name).await
    }

    /// The user's avatar (an `mxc://` URI) as the homeserver has it.
    pub async fn avatar_url(&self, user: &UserId) -> Result<Option<String>, HomeserverError> {
        self.profile_field(user, ProfileField::AvatarUrl).await
    }

    /// Sets a user's avatar to an `mxc://` URI, acting as them; like the
    /// display name, only when it differs.
    pub async fn set_avatar_url(&self, user: &UserId, mxc: &str) -> Result<(), HomeserverError> {
        self.set_profile_field(user, ProfileField::AvatarUrl, mxc).await
    }

    async fn profile_field(&self, user: &UserId, field: ProfileField) -> Result<Option<String>, HomeserverError> {
        let result = self
            .send(Request {
                endpoint: field.endpoints().0,
                method: Method::GET,
                path: &["_matrix", "client", "v3", "profile", user.as_str(), field.key()],
                as_user: Some(user),
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await;
        match result {
            Ok(v) => Ok(v.get(field.key()).and_then(Value::as_str).map(str::to_owned)),
            Err(e) if e.errcode() == Some("M_NOT_FOUND") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn set_profile_field(&self, user: &UserId, field: ProfileField, value: &str) -> Result<(), HomeserverError> {
        self.send(Request {
            endpoint: field.endpoints().1,
            method: Method::PUT,
            path: &["_matrix", "client", "v3", "profile", user.as_str(), field.key()],
            as_user: Some(user),
            query: &[],
            body: Some(json!({ field.key(): value })),
            auth: Auth::Appservice,
        })
        .await
        .map(drop)
    }

    /// Mints an access token for a namespace user (`m.login.application_service`).
    /// Passing the `device_id` of an earlier session reuses that device instead
    /// of piling up new ones.
    pub async fn login(
        &self,
        user: &UserId,
        device_id: Option<&str>,
        device_name: &str,
    ) -> Result<UserSession, HomeserverError> {
        let mut body = json!({
            "type": "m.login.application_service",
            "identifier": { "type": "m.id.user", "user": user.localpart() },
            "initial_device_display_name": device_name,
        });
        if let Some(device_id) = device_id {
            body["device_id"] = json!(device_id);
        }
        let v = self
            .send(Request {
                endpoint: "login",
                method: Method::POST,
                path: &["_matrix", "client", "v3", "login"],
                as_user: None,
                query: &[],
                body: Some(body),
                auth: Auth::Appservice,
            })
            .await?;
        let field = |name: &str| {
            v.get(name).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| HomeserverError::Protocol {
                endpoint: "login",
                detail: format!("no `{name}` in the login answer"),
            })
        };
        let user_id = UserId::parse(field("user_id")?)
            .map_err(|e| HomeserverError::Protocol { endpoint: "login", detail: format!("invalid user_id: {e}") })?;
        Ok(UserSession {
            user_id,
            access_token: SecretString::from(field("access_token")?),
            device_id: field("device_id")?,
        })
    }

    /// Who the homeserver says the appservice token (optionally acting as
    /// `as_user`) is. Proves the homeserver is up and knows the registration.
    pub async fn whoami(&self, as_user: Option<&UserId>) -> Result<OwnedUserId, HomeserverError> {
        let v = self
            .send(Request {
                endpoint: "whoami",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "account", "whoami"],
                as_user,
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await?;
        parse_whoami(&v)
    }

    /// Who a user's access token belongs to.
    pub async fn whoami_with_token(&self, token: &SecretString) -> Result<OwnedUserId, HomeserverError> {
        let v = self
            .send(Request {
                endpoint: "whoami",
                method: Method::GET,
                path: &["_matrix", "client", "v3", "account", "whoami"],
                as_user: None,
                query: &[],
                body: None,
                auth: Auth::User(token),
            })
            .await?;
        parse_whoami(&v)
    }

    /// The homeserver's supported versions; needs no token.
    pub async fn versions(&self) -> Result<Value, HomeserverError> {
        self.send(Request {
            endpoint: "versions",
            method: Method::GET,
            path: &["_matrix", "client", "versions"],
            as_user: None,
            query: &[],
            body: None,
            auth: Auth::None,
        })
        .await
    }
}

fn parse_whoami(v: &Value) -> Result<OwnedUserId, HomeserverError> {
    v.get("user_id").and_then(Value::as_str).and_then(|s| UserId::parse(s).ok()).ok_or_else(|| {
        HomeserverError::Protocol { endpoint: "whoami", detail: "no valid user_id in the answer".into() }
    })
}

/// A field of a user's profile.
#[derive(Debug, Clone, Copy)]
enum ProfileField {
    DisplayName,
    AvatarUrl,
}

impl ProfileField {
    /// Its key, in the path and in the body.
    fn key(self) -> &'static str {
        match self {
            ProfileField::DisplayName => "displayname",
            ProfileField::AvatarUrl => "avatar_url",
        }
    }

    /// The metrics' names of reading and of setting it.
    fn endpoints(self) -> (&'static str, &'static str) {
        match self {
            ProfileField::DisplayName => ("profile.displayname.get", "profile.displayname.set"),
            ProfileField::AvatarUrl => ("profile.avatar_url.get", "profile.avatar_url.set"),
        }
    }
}
