//! Stable machine codes for every error the server answers with.
//!
//! The wire carries the snake_case name (`"code": "point_inactive"`) beside
//! the English sentence in `error`; clients (console, phone app, CLI)
//! translate and act by code, never by matching the sentence. A code, once
//! shipped, keeps its name: devices in the field cannot be upgraded at once.
//! Add a code by adding a variant, its Chinese text in [`ErrorCode::zh`] and
//! its place in [`ErrorCode::ALL`] (a test checks the list is complete).

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($variant:ident => $name:literal, $zh:literal;)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($variant,)+
            /// A code this build does not know (a newer server): clients
            /// fall back to the sentence.
            #[serde(other)]
            Unknown,
        }

        impl ErrorCode {
            /// Every code the server can send.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The wire name, as serde writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// What a Chinese-speaking user reads for this code.
            pub fn zh(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $zh,)+
                    ErrorCode::Unknown => "请求未被接受",
                }
            }
        }
    };
}

error_codes! {
    // Generic codes, one per kind of refusal; specific codes below say more.
    BadRequest => "bad_request", "请求格式有误";
    Unauthenticated => "unauthenticated", "未登录或登录已失效，请重新登录";
    Forbidden => "forbidden", "当前账号无权进行此操作";
    NotFound => "not_found", "找不到所请求的内容";
    Conflict => "conflict", "与服务器上已有的内容冲突";
    CursorReset => "cursor_reset", "同步位置已失效，将从头同步";
    TooLarge => "too_large", "内容过大";
    Invalid => "invalid", "内容不符合要求";
    TooManyRequests => "too_many_requests", "尝试次数过多，请稍后再试";
    Internal => "internal", "服务器内部错误，已记录，请稍后再试";
    // Uploads.
    UploadOffsetMismatch => "upload_offset_mismatch", "上传位置与服务器不一致，将从服务器的位置继续";
    // Devices and office accounts (revocation, expiry, disabling).
    DeviceRevoked => "device_revoked", "此设备已被停用";
    DeviceExpired => "device_expired", "此设备长期未同步，登记已失效，请向办公室索取新登记码";
    UserDisabled => "user_disabled", "该账号已被停用";
    LastAdmin => "last_admin", "不能停用最后一个管理员账号";
    // Evidence and draws.
    VisitNotYours => "visit_not_yours", "此抽签任务不是本督查员的任务";
    VisitWrongPoint => "visit_wrong_point", "记录的点位不是此抽签任务的点位";
    VisitOutsideSlot => "visit_outside_slot", "观察时间不在此抽签任务的时段内";
    ObservedBeforeEnrollment => "observed_before_enrollment", "观察时间早于本设备注册时间，请检查手机的日期和时间";
    ObservedInFuture => "observed_in_future", "观察时间晚于服务器当前时间，请检查手机的日期和时间";
    // A stored photo must be exactly what the app's photo pipeline writes:
    // no Exif/XMP/comment segment and nothing after the end of the image.
    PhotoMetadata => "photo_metadata", "照片带有元数据（如相机品牌、型号或附加数据），服务器只接受应用处理过的照片";
    // Progressive, arithmetic-coded or otherwise not the app's baseline JPEG.
    PhotoNotFromApp => "photo_not_from_app", "照片不是应用生成的格式，请用最新版应用重新拍摄或选择照片";
    PhotoDimensions => "photo_dimensions", "照片尺寸超过应用生成的上限（长边2048像素）";
    // The device holds too many unfinished uploads (or announced bytes).
    UploadLimit => "upload_limit", "本设备未完成的照片上传过多，请稍后再同步";
    // Text inputs and what units see.
    TextControlCharacter => "text_control_character", "文字中含有看不见的控制字符，请删除后重新提交";
    // Office sign-in (server/src/signin.rs).
    UsernameTooLong => "username_too_long", "用户名过长，最多 64 个字符";
    PasswordTooLong => "password_too_long", "密码过长，最多 1024 个字节";
    SignInLocked => "sign_in_locked", "登录失败次数过多，请稍后再试";
    SignInPaused => "sign_in_paused", "服务器近期登录失败过多，已暂停登录，请几分钟后再试";
    SignInBusy => "sign_in_busy", "登录请求过多，服务器正忙，请几秒后再试";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_has_a_chinese_text_and_round_trips_by_its_wire_name() {
        for code in ErrorCode::ALL {
            assert!(!code.zh().is_empty(), "{code} has no Chinese text");
            assert!(
                code.zh().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{code}: {:?} is not Chinese",
                code.zh()
            );
            let wire = serde_json::to_string(code).unwrap();
            assert_eq!(wire, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&wire).unwrap(), *code);
        }
    }

    #[test]
    fn a_code_from_a_newer_server_reads_as_unknown() {
        assert_eq!(serde_json::from_str::<ErrorCode>("\"brand_new_rule\"").unwrap(), ErrorCode::Unknown);
    }
}
