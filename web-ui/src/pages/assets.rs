//! The console's script and style sheet, built into the binary.

use axum::http::header;
use axum::response::IntoResponse;

const SCRIPT: &str = include_str!("../../assets/console.js");
const STYLE: &str = include_str!("../../assets/console.css");

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
}

pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE,
    )
}
