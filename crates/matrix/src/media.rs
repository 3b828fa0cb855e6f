//! The homeserver's media repository: its upload limit, and uploads made
//! as a platform user (their avatar).

use reqwest::Method;
use ruma::UserId;
use serde_json::Value;

use crate::HomeserverError;
use crate::client::{AppserviceClient, Auth, Request};

impl AppserviceClient {
    /// The largest upload the homeserver takes (`m.upload.size`), if it
    /// says.
    pub async fn upload_limit(&self) -> Result<Option<u64>, HomeserverError> {
        let config = self
            .send(Request {
                endpoint: "media.config",
                method: Method::GET,
                path: &["_matrix", "client", "v1", "media", "config"],
                as_user: None,
                query: &[],
                body: None,
                auth: Auth::Appservice,
            })
            .await?;
        Ok(config.get("m.upload.size").and_then(Value::as_u64))
    }

    /// Uploads a file as `user`; returns its `mxc://` URI.
    pub async fn upload_media(
        &self,
        user: &UserId,
        content_type: &str,
        file_name: &str,
        bytes: bytes::Bytes,
    ) -> Result<String, HomeserverError> {
        let answer = self
            .send_raw(
                Request {
                    endpoint: "media.upload",
                    method: Method::POST,
                    path: &["_matrix", "media", "v3", "upload"],
                    as_user: Some(user),
                    query: &[("filename", file_name)],
                    body: None,
                    auth: Auth::Appservice,
                },
                content_type,
                bytes,
            )
            .await?;
        answer.get("content_uri").and_then(Value::as_str).map(str::to_owned).ok_or(HomeserverError::Protocol {
            endpoint: "media.upload",
            detail: "the upload's answer has no content_uri".into(),
        })
    }
}
