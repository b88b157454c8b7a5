//! Identities: the real person behind an inspector's alias (admin only, and
//! the command line on the server machine). Every read and write is logged
//! by the store in the same transaction, so no identity leaves the database
//! without an audit entry; the service checks what may be recorded.

use crate::db::Db;
use crate::db::identities::{Actor, Identity, IdentityError, IdentityInput};
use crate::error::AppError;

/// What an identity must be: clean text, a name of 1 to 64 characters and
/// a contact of at most 128 (both trimmed).
pub fn check_input(input: &IdentityInput) -> Result<(), AppError> {
    let name = input.real_name.trim();
    let contact = input.contact.trim();
    crate::app::reference::check_text("real_name", name)?;
    crate::app::reference::check_text("contact", contact)?;
    if name.is_empty() || name.chars().count() > 64 {
        return Err(IdentityError::RealNameLength.into());
    }
    if contact.chars().count() > 128 {
        return Err(IdentityError::ContactTooLong.into());
    }
    Ok(())
}

/// Who an inspector really is; `actor` is logged as having looked.
pub async fn read(db: &Db, inspector_id: i64, actor: Actor, now: jiff::Timestamp) -> Result<Identity, AppError> {
    db.read_identity(inspector_id, actor, now).await
}

/// Records who an inspector really is; `actor` is logged as having written.
pub async fn set(
    db: &Db,
    inspector_id: i64,
    input: IdentityInput,
    actor: Actor,
    now: jiff::Timestamp,
) -> Result<Identity, AppError> {
    check_input(&input)?;
    db.set_identity(inspector_id, input, actor, now).await
}

/// An inspector's id by alias, or 404.
pub async fn inspector_by_alias(db: &Db, alias: &str) -> Result<i64, AppError> {
    db.inspector_id_by_alias(alias.to_owned())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no inspector called {alias:?}")))
}
