//! The rectification loop (整改闭环): every accepted yellow or red card
//! becomes a case its unit must answer by a deadline, re-checked by an
//! independent inspector, escalated when late.
//!
//! - [`calendar`]: the office's working days and the deadlines counted on them;
//! - [`case`]: the case's states and the one function that moves them;
//! - [`notice`]: what a unit is told, on which channel, and when a failed delivery is tried again.
//!
//! Both are pure: no storage, no clock of their own. The service that runs
//! them reads the case, calls [`case::apply`] with the time, and hands the
//! result to storage to write with its event in one transaction.

pub mod calendar;
pub mod case;
pub mod notice;

use crate::error::AppError;

impl From<case::CaseError> for AppError {
    fn from(e: case::CaseError) -> Self {
        let err = AppError::coded(e.status(), e.code(), e.to_string());
        match e.field() {
            Some(field) => err.with_field(field),
            None => err,
        }
    }
}
